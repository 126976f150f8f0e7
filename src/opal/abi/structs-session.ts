// Encoders and decoders of the sed-opal structs that open a session or carry a key:
// opal_key, opal_session_info, opal_lock_unlock, opal_new_pw, opal_revert_lsp. Encoders copy
// key bytes into the returned Buffer: the caller zeroes both its own key and the encoded
// buffer after the ioctl. Decoders return copies; errors never quote keys.
import * as L from './layouts';
import { alloc, checkSize, readKey, readSession, writeKey, writeSession } from './struct-fields';
import type {
  OpalKey,
  OpalLockUnlock,
  OpalNewPw,
  OpalRevertLsp,
  OpalSessionInfo,
} from './struct-types';

// ---- opal_key

export function encodeOpalKey(k: OpalKey): Buffer {
  const buf = alloc(L.OPAL_KEY);
  writeKey(buf, 0, k);
  return buf;
}

export function decodeOpalKey(buf: Buffer): OpalKey & { keyType: number } {
  checkSize(L.OPAL_KEY, buf);
  return readKey(buf, 0);
}

// ---- opal_session_info

export function encodeOpalSessionInfo(s: OpalSessionInfo): Buffer {
  const buf = alloc(L.OPAL_SESSION_INFO);
  writeSession(buf, 0, s);
  return buf;
}

export function decodeOpalSessionInfo(buf: Buffer): OpalSessionInfo {
  checkSize(L.OPAL_SESSION_INFO, buf);
  return readSession(buf, 0);
}

// ---- opal_lock_unlock

export function encodeOpalLockUnlock(v: OpalLockUnlock): Buffer {
  const buf = alloc(L.OPAL_LOCK_UNLOCK);
  const f = L.OPAL_LOCK_UNLOCK.fields;
  writeSession(buf, f.session, v.session);
  buf.writeUInt32LE(v.lState, f.l_state);
  buf.writeUInt16LE(v.flags ?? 0, f.flags);
  return buf;
}

export function decodeOpalLockUnlock(buf: Buffer): Required<OpalLockUnlock> {
  checkSize(L.OPAL_LOCK_UNLOCK, buf);
  const f = L.OPAL_LOCK_UNLOCK.fields;
  return {
    session: readSession(buf, f.session),
    lState: buf.readUInt32LE(f.l_state),
    flags: buf.readUInt16LE(f.flags),
  };
}

// ---- opal_new_pw

export function encodeOpalNewPw(v: OpalNewPw): Buffer {
  const buf = alloc(L.OPAL_NEW_PW);
  const f = L.OPAL_NEW_PW.fields;
  writeSession(buf, f.session, v.session);
  writeSession(buf, f.new_user_pw, v.newUserPw);
  return buf;
}

export function decodeOpalNewPw(buf: Buffer): OpalNewPw {
  checkSize(L.OPAL_NEW_PW, buf);
  const f = L.OPAL_NEW_PW.fields;
  return { session: readSession(buf, f.session), newUserPw: readSession(buf, f.new_user_pw) };
}

// ---- opal_revert_lsp

export function encodeOpalRevertLsp(v: OpalRevertLsp): Buffer {
  const buf = alloc(L.OPAL_REVERT_LSP);
  writeKey(buf, L.OPAL_REVERT_LSP.fields.key, v.key);
  buf.writeUInt32LE(v.options, L.OPAL_REVERT_LSP.fields.options);
  return buf;
}

export function decodeOpalRevertLsp(buf: Buffer): OpalRevertLsp {
  checkSize(L.OPAL_REVERT_LSP, buf);
  return {
    key: readKey(buf, L.OPAL_REVERT_LSP.fields.key),
    options: buf.readUInt32LE(L.OPAL_REVERT_LSP.fields.options),
  };
}
