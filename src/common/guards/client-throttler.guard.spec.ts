import { trackerOf } from './client-throttler.guard';

describe('trackerOf', () => {
  it('tracks an accepted API key by its name, whatever the address', () => {
    // Act / Assert
    expect(trackerOf('svc', '10.0.0.1')).toBe('key:svc');
    expect(trackerOf('svc', '2001:db8::1')).toBe('key:svc');
  });

  it('groups IPv6 addresses by their /64 (one client, one record), and keeps IPv4 addresses apart', () => {
    // Act
    const sameSubnet = [trackerOf(undefined, '2001:db8:1:2::1'), trackerOf(undefined, '2001:db8:1:2:ffff::9')];
    const otherSubnet = trackerOf(undefined, '2001:db8:1:3::1');
    const v4 = [trackerOf(undefined, '10.0.0.1'), trackerOf(undefined, '10.0.0.2')];

    // Assert
    expect(sameSubnet[0]).toBe(sameSubnet[1]);
    expect(otherSubnet).not.toBe(sameSubnet[0]);
    expect(v4[0]).not.toBe(v4[1]);
    expect(trackerOf(undefined, undefined)).toBe('ip:unknown');
  });
});
