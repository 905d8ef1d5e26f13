/**
 * A fresh spiking text encoder aligned to a CLIP-initialised teacher must fire: with the copied
 * token embeddings (std 0.02) alone no membrane reaches V_th, every prompt gets fc2's bias and
 * 1 - cos stays near its start (measured 0.698 after 150 epochs on shapes). pretrain makes the
 * fresh encoder fire (firingTextInit), so different prompts get different embeddings.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { okResult, runCli } from '../helpers/cli';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'pretrain-fires-'));
const ENV = { ...process.env, SPIKECLIP_BACKEND: 'wasm', CI: '1', SPIKECLIP_CACHE: path.join(work, 'cache') };

afterAll(() => {
  fs.rmSync(work, { recursive: true, force: true });
});

test('pretrain --part text from a fresh preset against a clip-tiny teacher gives different prompts different embeddings', () => {
  const teacher = path.join(work, 'teacher');
  okResult(runCli(['pretrain', '--part', 'clip', '--target', 'teacher', '--preset', 'clip-tiny', '--dataset', 'shapes', '--max-steps', '2', '--batch-size', '16', '--out', teacher, '--json'], ENV));
  const text = path.join(work, 'text');
  okResult(runCli(['pretrain', '--part', 'text', '--teacher', path.join(teacher, 'checkpoints', 'latest'), '--preset', 'spikeclip-tiny', '--dataset', 'shapes', '--epochs', '40', '--batch-size', '144', '--lr', '5e-3', '--log-every', '0', '--out', text, '--json'], ENV));
  const r = okResult(runCli(['embed', '--checkpoint', path.join(text, 'checkpoints', 'latest'), '--text', 'a photo of a red circle.', '--text', 'a photo of a blue square.', '--text', 'a photo of a green star.', '--json'], ENV)) as { text_embeds: number[][] };
  const [a, b, c] = r.text_embeds;
  const diff = (x: number[], y: number[]) => Math.max(...x.map((v, i) => Math.abs(v - y[i])));
  // a silent encoder gives the three prompts exactly the same vector (fc2's bias)
  expect(diff(a, b)).toBeGreaterThan(1e-3);
  expect(diff(a, c)).toBeGreaterThan(1e-3);
  expect(diff(b, c)).toBeGreaterThan(1e-3);
}, 240_000);
