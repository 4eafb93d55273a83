import { escapeRegExp, expand, parseLine, ScriptError, scriptLines } from '../../src/simulator/script';

describe('the simulator script language', () => {
  it('reads each kind of line', () => {
    expect(parseLine('DIAL')).toEqual({ kind: 'dial' });
    expect(parseLine('SMS: STATUS')).toEqual({ kind: 'sms', text: 'STATUS' });
    expect(parseLine('SMS +919900000001: VAX +919812345678 1234')).toEqual({ kind: 'sms', from: '+919900000001', text: 'VAX +919812345678 1234' });
    expect(parseLine('WAIT code is (?<CODE>\\d{4})')).toEqual({ kind: 'wait', pattern: 'code is (?<CODE>\\d{4})' });
    expect(parseLine('WAIT +919900000001: ACCEPTED')).toEqual({ kind: 'wait', phone: '+919900000001', pattern: 'ACCEPTED' });
    expect(parseLine('SET ID=P1234567')).toEqual({ kind: 'set', name: 'ID', value: 'P1234567' });
    expect(parseLine('Asha Devi')).toEqual({ kind: 'input', text: 'Asha Devi' });
    expect(parseLine('')).toEqual({ kind: 'input', text: '' });
    expect(() => parseLine('SMS +91x: hi')).toThrow(ScriptError);
    expect(() => parseLine('SET 1=2')).toThrow(ScriptError);
  });

  it('skips blank lines and comments, keeping line numbers', () => {
    expect(scriptLines('# a comment\r\n\nDIAL\r\n  1  \n')).toEqual([
      { number: 3, text: 'DIAL' },
      { number: 4, text: '1' },
    ]);
  });

  it('fills in placeholders, literally inside a pattern, and names a missing one', () => {
    const variables = new Map([['REF', 'A1.B2'], ['PHONE', '+919812345678']]);
    expect(expand('VAX ${PHONE} ${REF}', variables)).toBe('VAX +919812345678 A1.B2');
    expect(new RegExp(expand('ref ${REF}$', variables, escapeRegExp)).test('ref A1xB2')).toBe(false);
    expect(expand('P${RANDOM:7}', variables)).toMatch(/^P\d{7}$/);
    expect(() => expand('${CODE}', variables)).toThrow(/\$\{CODE\} is not set \(set so far: REF, PHONE/);
  });
});
