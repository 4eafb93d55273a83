import { africasTalking } from './africastalking';
import { exotel } from './exotel';
import type { ChannelHandler } from './handler';
import { sandbox } from './sandbox';

/** Every provider Tika can speak: a new one is a folder under src/channels and a line here. */
export const CHANNELS: readonly ChannelHandler[] = [sandbox, africasTalking, exotel];

export function channelNamed(name: string): ChannelHandler | undefined {
  return CHANNELS.find((channel) => channel.name === name);
}

export const CHANNEL_NAMES = CHANNELS.map((channel) => channel.name);
