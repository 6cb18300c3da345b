// Drives the live view on this process's stderr through one stage, as a run would: for the
// terminal test, which runs it under a real pty (script(1)).
import { liveTerminal } from '../../src/cli/terminal.js';

const term = liveTerminal(process.stderr);
const at = () => new Date().toISOString();
term.events({ event: 'stage-start', at: at(), stage: 'disk' });
term.events({ event: 'progress', at: at(), stage: 'disk', text: 'extracting archives' });
term.log('disk: installer direct');
term.events({ event: 'progress', at: at(), stage: 'disk', text: 'writing the ESP' });
term.events({ event: 'stage-end', at: at(), stage: 'disk', ms: 1234, cached: false });
term.events({ event: 'stage-start', at: at(), stage: 'session' });
term.events({ event: 'progress', at: at(), stage: 'session', text: 'kernel 6.12 at 9.8 s' });
term.close();
process.stderr.write('after the view\n');
