import { escapeHtml } from '../http/html';

/**
 * The simulator page: plain HTML that works without styles, the phones drawn by the script
 * (simulator.js) from <template id="phone">. `base` is where the page is mounted, so the same
 * page works at /simulator/ and /admin/simulator/.
 */
export function simulatorPage(base: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<base href="${escapeHtml(base)}">
<title>Tika phone simulator</title>
<link rel="stylesheet" href="simulator.css">
<script defer src="simulator.js"></script>
</head>
<body>
<header>
<h1>Tika phone simulator</h1>
<p id="intro">Feature phones that talk to this server through its real Africa's Talking webhooks: dial <strong id="service-code">the service code</strong>, answer the menus with the keypad or the keyboard (Enter sends, Escape ends, Backspace deletes), text SMS commands. SMS the sandbox provider sends appear in each phone's inbox as they are sent.</p>
<p id="notice" role="status" hidden></p>
<form id="add-phone">
<label for="new-number">Number</label>
<input id="new-number" name="number" inputmode="tel" autocomplete="off" size="16">
<button type="submit">Add a phone</button>
</form>
</header>
<main id="phones" aria-label="Phones"></main>
<noscript><p>The simulator needs JavaScript.</p></noscript>

<template id="phone">
<section class="phone" aria-label="phone">
<h2 class="phone-title"><span class="role"></span> <span class="number"></span></h2>
<div class="handset">
<div class="screen" aria-live="polite" aria-atomic="true" aria-label="Screen"><pre class="screen-text"></pre></div>
<p class="measure" aria-label="Screen size"><span class="measure-text"></span> <span class="countdown"></span></p>
<label class="entry-label">Input <input class="entry" autocomplete="off" spellcheck="false" inputmode="tel"></label>
<div class="keypad" role="group" aria-label="Keypad">
<button type="button" class="call" data-key="call" aria-label="Send or call">Call</button>
<button type="button" class="clear" data-key="clear" aria-label="Clear">C</button>
<button type="button" class="hangup" data-key="end" aria-label="End">End</button>
<button type="button" data-key="1">1</button><button type="button" data-key="2">2</button><button type="button" data-key="3">3</button>
<button type="button" data-key="4">4</button><button type="button" data-key="5">5</button><button type="button" data-key="6">6</button>
<button type="button" data-key="7">7</button><button type="button" data-key="8">8</button><button type="button" data-key="9">9</button>
<button type="button" data-key="*">*</button><button type="button" data-key="0">0</button><button type="button" data-key="#">#</button>
</div>
</div>
<div class="side">
<div class="language">
<label>Language <select class="language-choice"><option value="en">English</option><option value="hi">हिन्दी</option></select></label>
<button type="button" class="language-switch">Switch through the menus</button>
</div>
<form class="composer">
<label>SMS to <span class="short-code"></span> <textarea class="sms-text" rows="2" placeholder="HELP, BOOK 110001, CODE, VAX ..."></textarea></label>
<p class="sms-measure"></p>
<button type="submit">Send SMS</button>
</form>
<h3>Inbox</h3>
<ol class="inbox" aria-live="polite" aria-label="Inbox"></ol>
</div>
</section>
</template>
</body>
</html>
`;
}

export const SIMULATOR_CSS = `
:root { --ink: #1b1b1b; --muted: #555; --bad: #b00020; --ok: #0a6b2d; --screen: #dfe8d0; --body: #2f3640;
  font-family: system-ui, "Noto Sans", "Noto Sans Devanagari", "Mangal", "Nirmala UI", sans-serif; color: var(--ink); }
body { margin: 0 auto; padding: 0 .75rem 2rem; max-width: 90rem; }
h1 { font-size: 1.4rem; margin: .8rem 0 .3rem; }
header p { margin: .3rem 0; max-width: 60rem; }
#notice { color: var(--bad); }
#add-phone { margin: .5rem 0; display: flex; gap: .4rem; align-items: center; flex-wrap: wrap; }
#phones { display: flex; flex-wrap: wrap; gap: 1rem; align-items: flex-start; }
.phone { flex: 0 1 36rem; min-width: 0; max-width: 100%; border: 1px solid #ccc; border-radius: .6rem; padding: .6rem; box-sizing: border-box;
  display: grid; grid-template-columns: 16rem minmax(0, 1fr); gap: 0 .9rem; align-items: start; }
.phone-title { font-size: 1rem; margin: 0 0 .4rem; grid-column: 1 / -1; }
.side { min-width: 0; }
.language { margin-top: 0; }
.phone-title .number { font-family: ui-monospace, monospace; font-weight: normal; }
.handset { background: var(--body); border-radius: 1.2rem; padding: .8rem .7rem 1rem; color: #fff; }
.screen { background: var(--screen); color: #111; border-radius: .3rem; min-height: 10.5rem; padding: .4rem .5rem; overflow-wrap: anywhere; }
.screen.over { outline: 3px solid var(--bad); }
.screen-text { margin: 0; white-space: pre-wrap; font: inherit; font-size: .95rem; line-height: 1.3; }
.measure { font-size: .8rem; margin: .3rem 0; color: #d8e0ea; }
.measure.over { color: #ff9a9a; font-weight: bold; }
.entry-label { display: block; font-size: .8rem; }
.entry { width: 100%; box-sizing: border-box; font: inherit; font-size: 1.1rem; padding: .3rem; margin: .2rem 0 .5rem; }
.keypad { display: grid; grid-template-columns: repeat(3, 1fr); gap: .35rem; }
.keypad button { font: inherit; font-size: 1.05rem; padding: .3rem 0; border-radius: .5rem; border: 0; background: #e8e8e8; color: #111; cursor: pointer; }
.keypad button:focus-visible, .entry:focus-visible { outline: 3px solid #ffbf47; }
.keypad .call { background: #2e9e4f; color: #fff; }
.keypad .hangup { background: #c8323c; color: #fff; }
.language { margin: .5rem 0; display: flex; gap: .4rem; flex-wrap: wrap; align-items: center; font-size: .9rem; }
.composer textarea { display: block; width: 100%; box-sizing: border-box; font: inherit; margin-top: .2rem; }
.sms-measure { font-size: .8rem; color: var(--muted); margin: .2rem 0; }
h3 { font-size: .95rem; margin: .6rem 0 .2rem; }
.inbox { list-style: none; padding: 0; margin: 0; max-height: 24rem; overflow-y: auto; }
.inbox li { border-top: 1px solid #ddd; padding: .3rem 0; font-size: .9rem; overflow-wrap: anywhere; }
.inbox li.sent { color: var(--muted); }
.inbox .meta { display: block; font-size: .75rem; color: var(--muted); }
.inbox a { color: #0b57d0; }
@media (max-width: 40rem) { .phone { grid-template-columns: minmax(0, 1fr); } .side { margin-top: .6rem; } }
@media (max-width: 420px) { body { padding: 0 .4rem 1rem; } .phone { flex-basis: 100%; } }
`;
