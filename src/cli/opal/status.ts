// `ekmctl opal status` and `discover`: key-less reads.
import type { DriveStatus, Level0 } from '../../opal/drive';
import { opalCommand } from './opal-command';

export const status = opalCommand({
  name: 'status',
  synopsis: '',
  help: ['GET_STATUS (and GET_GEOMETRY where the kernel has it). Needs no PIN.'],
  async run({ drive }) {
    const s = await drive.status();
    const geometry = s.supported ? await drive.geometry() : undefined;
    return { device: drive.path, status: s, geometry: geometry ?? null };
  },
  text(r) {
    const s = r.status as DriveStatus;
    const yes = (b: boolean) => (b ? 'yes' : 'no');
    return [
      `device:            ${r.device as string}`,
      `opal:              ${yes(s.supported)}`,
      `locking supported: ${yes(s.lockingSupported)}`,
      `locking enabled:   ${yes(s.lockingEnabled)}`,
      `locked:            ${yes(s.locked)}`,
      `mbr enabled:       ${yes(s.mbrEnabled)}`,
      `mbr done:          ${yes(s.mbrDone)}`,
      `flags:             0x${s.flags.toString(16).padStart(2, '0')}`,
      '',
    ].join('\n');
  },
});

export const discover = opalCommand({
  name: 'discover',
  synopsis: '',
  help: ['Level 0 discovery (IOC_OPAL_DISCOVERY, kernel 6.6+). Needs no PIN.'],
  async run({ drive }) {
    const level0 = await drive.discover();
    if (!level0) return { device: drive.path, supported: false, features: [] };
    return {
      device: drive.path,
      supported: true,
      version: `${level0.majorVersion}.${level0.minorVersion}`,
      locking: level0.locking ?? null,
      features: level0.features.map((f) => ({
        code: f.code,
        name: f.name,
        version: f.version,
        data: f.data.toString('hex'),
      })),
    };
  },
  text(r) {
    if (!r.supported) return `${r.device as string}: this kernel or transport lacks DISCOVERY\n`;
    const features = r.features as Array<Pick<Level0['features'][0], 'code' | 'name' | 'version'>>;
    return [
      `device: ${r.device as string}`,
      ...features.map(
        (f) => `  0x${f.code.toString(16).padStart(4, '0')} ${f.name} (version ${f.version})`,
      ),
      '',
    ].join('\n');
  },
});
