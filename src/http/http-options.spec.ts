import helmet from 'helmet';
import { IncomingMessage, ServerResponse } from 'node:http';
import { Socket } from 'node:net';

import { helmetOptions, recordHelmetHeaders } from './http-options';

describe('recordHelmetHeaders', () => {
  it('records exactly the headers helmet sets on a Node response, with their values', () => {
    // Arrange
    const req = new IncomingMessage(new Socket());
    const res = new ServerResponse(req);
    res.setHeader('X-Powered-By', 'something');
    let finished = false;
    helmet(helmetOptions())(req, res, () => (finished = true));

    // Act
    const sut = recordHelmetHeaders();

    // Assert
    expect(finished).toBe(true);
    const recorded = Object.fromEntries(sut.set.map(([name, value]) => [name.toLowerCase(), value]));
    expect(recorded).toEqual(res.getHeaders());
    expect(sut.removed.map((name) => name.toLowerCase())).toEqual(['x-powered-by']);
    expect(Object.keys(recorded)).toEqual(expect.arrayContaining(['content-security-policy', 'strict-transport-security', 'x-content-type-options', 'x-frame-options']));
  });

  it('records the configured CSP (no upgrade-insecure-requests: the service may be reached over plain HTTP)', () => {
    // Act
    const sut = recordHelmetHeaders();

    // Assert
    const csp = sut.set.find(([name]) => name.toLowerCase() === 'content-security-policy')?.[1];
    expect(csp).toEqual(expect.stringContaining("default-src 'self'"));
    expect(csp).not.toEqual(expect.stringContaining('upgrade-insecure-requests'));
  });
});
