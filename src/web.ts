import { start } from './start';

void start('web');
