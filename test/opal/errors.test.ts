// Every errno and TCG status the sed-opal ioctls can return maps to its typed error.
import t from 'tap';
import { constants } from 'node:os';
import { TcgStatus } from '../../src/opal/abi';
import * as E from '../../src/opal/errors';

const ctx = { op: 'IOC_OPAL_LOCK_UNLOCK', device: '/dev/nvme0n1' };
const errno = constants.errno;

t.test('kernel errors (rc < 0)', async (t) => {
  const cases: Array<[number, new (...a: never[]) => E.OpalKernelError, string]> = [
    [errno.EACCES, E.OpalPermissionError, 'EACCES'],
    [errno.EPERM, E.OpalPermissionError, 'EPERM'],
    [errno.EOPNOTSUPP, E.OpalNotSupportedError, 'EOPNOTSUPP'],
    [E.ENOTSUPP, E.OpalNotSupportedError, 'ENOTSUPP'],
    [errno.ENOTTY, E.OpalIoctlUnsupportedError, 'ENOTTY'],
    [errno.EINVAL, E.OpalInvalidArgumentError, 'EINVAL'],
    [errno.ENXIO, E.OpalNoDeviceError, 'ENXIO'],
    [errno.ENODEV, E.OpalNoDeviceError, 'ENODEV'],
    [errno.ENOENT, E.OpalNoDeviceError, 'ENOENT'],
    [errno.EBUSY, E.OpalDeviceBusyError, 'EBUSY'],
    [errno.EAGAIN, E.OpalDeviceBusyError, 'EAGAIN'],
    [errno.EFAULT, E.OpalKernelError, 'EFAULT'],
    [errno.EIO, E.OpalKernelError, 'EIO'],
    [errno.ENOMEM, E.OpalKernelError, 'ENOMEM'],
    [errno.EBADF, E.OpalKernelError, 'EBADF'],
    [errno.EINTR, E.OpalKernelError, 'EINTR'],
  ];
  for (const [n, cls, code] of cases) {
    const err = E.resultError(ctx, { rc: -1, errno: n });
    t.type(err, cls, code);
    t.type(err, E.OpalError);
    t.equal(err?.code, code);
    t.equal((err as E.OpalKernelError).errno, n);
    t.match(err?.message, new RegExp(`^IOC_OPAL_LOCK_UNLOCK on /dev/nvme0n1: .*\\(${code}\\)$`));
  }
  t.match(E.kernelError(ctx, errno.EACCES).message, /CAP_SYS_ADMIN/);
  t.match(E.kernelError(ctx, E.ENOTSUPP).message, /not an Opal device/);
  t.equal(E.kernelError({ op: 'x' }, 9999).code, 'errno 9999');
});

t.test('drive statuses (rc > 0)', async (t) => {
  for (const [name, code] of Object.entries(TcgStatus)) {
    if (code === 0) continue;
    const err = E.resultError(ctx, { rc: code, errno: 0 }) as E.OpalStatusError;
    t.type(err, E.OpalStatusError, name);
    t.equal(err.status, code);
    t.equal(err.code, name);
    t.equal(err.retryable, code === 0x03 || code === 0x07, `${name} retryable`);
  }
  t.type(E.statusError(ctx, 1), E.OpalNotAuthorizedError);
  t.type(E.statusError(ctx, 0x12), E.OpalLockedOutError);
  t.match(E.statusError(ctx, 0x12).message, /power-cycle/);
  t.equal(E.statusError(ctx, 0x55).code, 'TCG status 0x55');
});

t.test('success is no error; checkResult throws the typed one', async (t) => {
  t.equal(E.resultError(ctx, { rc: 0, errno: 0 }), undefined);
  t.doesNotThrow(() => E.checkResult(ctx, { rc: 0, errno: 0 }));
  t.throws(() => E.checkResult(ctx, { rc: 1, errno: 0 }), E.OpalNotAuthorizedError);
  t.throws(() => E.checkResult(ctx, { rc: -1, errno: errno.ENOTTY }), { code: 'ENOTTY' });
});
