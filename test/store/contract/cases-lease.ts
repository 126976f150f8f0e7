// Contract: leases for keys that say "alive" — put under a lease, kept alive, gone when
// revoked, when the store closes, and when their holder dies (etcd: once the TTL runs
// out; SQLite: at the next open, since a lease there lives as long as its process).
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { StoreError } from '../../../src/store';
import { client, fresh, openAt, type Backend } from './backends';
import { collect, gate, rejection } from './helpers';

export const leaseCases: Record<string, (t: Test, b: Backend) => Promise<void>> = {
  'leased keys: put, kept alive, deleted when the lease is revoked': async (t, b) => {
    const { store } = await fresh(t, b);
    const seen = await collect(t, store, 'alive/');
    const lease = await store.grantLease(5);
    t.equal(lease.ttlSeconds, 5);
    const r = await lease.put('alive/n1', { node: 1 });
    t.same(await store.get('alive/n1'), { key: 'alive/n1', value: { node: 1 }, revision: r });
    await lease.keepAlive();
    await lease.revoke();
    t.equal(await store.get('alive/n1'), undefined, 'gone with its lease');
    await seen.count(2);
    t.same(
      seen.changes.map((c) => c.type),
      ['put', 'delete'],
    );
    const err = await rejection(lease.put('alive/n1', 1));
    t.ok(err instanceof StoreError, err.message);
    t.equal(await store.get('alive/n1'), undefined);
  },

  'closing the store ends its leases': async (t, b) => {
    const { location, store } = await fresh(t, b);
    const other = await client(t, location);
    const lease = await store.grantLease(30);
    await lease.put('alive/n2', 2);
    t.ok(await other.get('alive/n2'));
    await store.close();
    t.equal(await other.get('alive/n2'), undefined);
  },

  'a leased key does not outlive a holder that died': async (t, b) => {
    const { location, store } = await fresh(t, b);
    const child = spawn(
      process.execPath,
      [join(__dirname, 'fixtures', 'lease-holder.js'), JSON.stringify(location)],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    t.teardown(() => child.kill('SIGKILL'));
    const ready = gate();
    child.stdout.on('data', (d: Buffer) => d.toString().includes('ready') && ready.open());
    await ready.wait;
    t.ok(await store.get('alive/child'), 'the holder put its key');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    if (b.leaseEnd === 'ttl') {
      const killed = Date.now();
      let gone = false;
      while (!gone && Date.now() - killed < 15_000) {
        gone = (await store.get('alive/child')) === undefined;
        if (!gone) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const after = Date.now() - killed;
      t.ok(gone && after < 10_000, `gone ${after} ms after its holder died (TTL 2 s)`);
    } else {
      await store.close();
      const reopened = await openAt(location);
      t.teardown(() => reopened.close());
      t.equal(await reopened.get('alive/child'), undefined, 'gone at the next open');
    }
  },

  'a transaction that read a leased key conflicts when the lease ends': async (t, b) => {
    const { store } = await fresh(t, b);
    const lease = await store.grantLease(30);
    await lease.put('alive/n3', 3);
    let attempts = 0;
    const hasRead = gate();
    const resume = gate();
    const running = store.transaction(async (tx) => {
      attempts++;
      const alive = (await tx.get('alive/n3')) !== undefined;
      if (attempts === 1) {
        hasRead.open();
        await resume.wait;
      }
      tx.put('decision', alive ? 'n3 alive' : 'n3 gone');
    });
    await hasRead.wait;
    await lease.revoke();
    resume.open();
    await running;
    t.equal(attempts, 2);
    t.equal((await store.get('decision'))!.value, 'n3 gone');
  },

  'lease TTLs are whole seconds, 1 to a day': async (t, b) => {
    const { store } = await fresh(t, b);
    for (const ttl of [0, 1.5, -1, 86_401, '5']) {
      const err = await rejection(store.grantLease(ttl as never));
      t.ok(err instanceof StoreError);
      t.match(err.message, /^lease TTL must be/);
    }
  },
};
