// bootc's tpm2-luks installs record the PCRs their root is sealed to, read on the host from the
// LUKS2 header on the disk (issue 23): luks.tpm2-token then judges bootc installs too. The disk
// here is real: a GPT disk file whose second partition is a LUKS2 volume formatted by
// cryptsetup, with a systemd-tpm2 token as systemd-cryptenroll writes it (its JSON keys).
import t from 'tap';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { luksBinaryHeader, sealedRootOf, tpm2PcrsOf } from '../src/install/luks-header.js';
import { runChecked } from '../src/util/exec.js';

const S = { stage: 'disk' as const };
// systemd's src/cryptsetup/cryptsetup-tokens/luks2-tpm2.c / tpm2-util.c token fields.
const token = (pcrs: number[]) => JSON.stringify({ type: 'systemd-tpm2', keyslots: ['0'], 'tpm2-blob': 'AA==', 'tpm2-pcrs': pcrs, 'tpm2-pcr-bank': 'sha256', 'tpm2-primary-alg': 'ecc', 'tpm2-policy-hash': '00' });

t.test('the binary header: LUKS2 magic, a header size LUKS2 allows, a UUID; anything else is not one', async (t) => {
  const b = Buffer.alloc(4096);
  Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]).copy(b, 0);
  b.writeUInt16BE(2, 6);
  b.writeBigUInt64BE(16384n, 8);
  b.write('a3c6787f-adf1-4f9f-9f16-1c5aea36900e', 168, 'latin1');
  t.same(luksBinaryHeader(b), { version: 2, hdrSize: 16384, uuid: 'a3c6787f-adf1-4f9f-9f16-1c5aea36900e' });
  const huge = Buffer.from(b);
  huge.writeBigUInt64BE(2n ** 40n, 8);
  t.equal(luksBinaryHeader(huge), undefined, 'a header size beyond 4 MiB is refused, so nothing reads that much');
  const v1 = Buffer.from(b);
  v1.writeUInt16BE(1, 6);
  t.equal(luksBinaryHeader(v1), undefined);
  t.equal(luksBinaryHeader(Buffer.alloc(4096)), undefined);
});

t.test("the token's PCRs as systemd-cryptenroll spells them", async (t) => {
  t.same(tpm2PcrsOf(JSON.stringify({ tokens: { '0': JSON.parse(token([7])) } })), ['7']);
  t.same(tpm2PcrsOf(JSON.stringify({ tokens: { '0': JSON.parse(token([0, 7])) } })), ['0+7']);
  t.same(tpm2PcrsOf(JSON.stringify({ tokens: { '0': JSON.parse(token([])) } })), [''], 'bound to the TPM alone');
  t.same(tpm2PcrsOf(JSON.stringify({ tokens: { '0': { type: 'fido2' } } })), [], 'another token type is not a TPM2 seal');
  t.throws(() => tpm2PcrsOf(JSON.stringify({ tokens: { '0': { type: 'systemd-tpm2', 'tpm2-pcrs': ['7; rm'] } } })), /malformed/);
});

/** A 64 MiB GPT disk file: a small first partition, then a LUKS2 one carrying `tokens`. */
async function disk(dir: string, tokens: string[], luks = true): Promise<string> {
  const path = join(dir, 'disk.raw');
  await runChecked(['truncate', '-s', '64M', path], S);
  await runChecked(['sfdisk', '--quiet', path], { ...S, input: 'label: gpt\nsize=4MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B\ntype=4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709\n' });
  if (!luks) return path;
  const part = join(dir, 'part.img');
  await runChecked(['truncate', '-s', '40M', part], S);
  writeFileSync(join(dir, 'key'), 'setup');
  await runChecked(['cryptsetup', 'luksFormat', '--type', 'luks2', '--batch-mode', '--pbkdf', 'pbkdf2', '--pbkdf-force-iterations', '1000', '--key-file', join(dir, 'key'), part], S);
  for (const [i, tok] of tokens.entries()) {
    writeFileSync(join(dir, `token${i}.json`), tok);
    await runChecked(['cryptsetup', 'token', 'import', '--json-file', join(dir, `token${i}.json`), part], S);
  }
  // The second partition starts at 5 MiB (sfdisk aligns the first at 1 MiB, 4 MiB long).
  await runChecked(['dd', `if=${part}`, `of=${path}`, 'bs=1M', 'seek=5', 'conv=notrunc,sparse', 'status=none'], S);
  return path;
}

const root = process.getuid?.() === 0;
t.test('a real disk: the root partition found by its header, its UUID and sealed PCRs read without a loop device', { skip: root ? false : 'needs root (cryptsetup)' }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'bh-luks-header-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const path = await disk(dir, [token([7])]);
  const uuid = (await runChecked(['cryptsetup', 'luksUUID', join(dir, 'part.img')], S)).stdout.trim();
  t.same(await sealedRootOf(path), { luksUuid: uuid, luksPcrs: '7' }, "bootc's tpm2-luks seal, as systemd-cryptenroll wrote it");
  const losetup = (await runChecked(['losetup', '--list', '--noheadings', '--output', 'BACK-FILE'], S)).stdout;
  t.notMatch(losetup, new RegExp(dir), 'no loop device over the disk');

  const none = mkdtempSync(join(tmpdir(), 'bh-luks-header-'));
  t.teardown(() => rmSync(none, { recursive: true, force: true }));
  await t.rejects(sealedRootOf(await disk(none, [], false)), /0 LUKS2 partitions, expected one/, 'no encrypted root: said');
  const two = mkdtempSync(join(tmpdir(), 'bh-luks-header-'));
  t.teardown(() => rmSync(two, { recursive: true, force: true }));
  await t.rejects(sealedRootOf(await disk(two, [token([7]), token([0, 7])])), /2 systemd-tpm2 tokens, expected one/);
});
