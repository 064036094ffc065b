'use strict';
// Draws media/icon.png (128×128, the Marketplace icon: the activity-bar glyph on a dark tile).
// Run once after changing the drawing: node scripts/make-icon.js
const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { crc32 } = require('./crc32');

const size = 128;
const pixels = Buffer.alloc(size * size * 4);
function put(x, y, [r, g, b]) {
  if (x < 0 || y < 0 || x >= size || y >= size) return;
  const i = (y * size + x) * 4;
  pixels[i] = r; pixels[i + 1] = g; pixels[i + 2] = b; pixels[i + 3] = 255;
}
const background = [0x1f, 0x2a, 0x44];
const accent = [0xf2, 0xb1, 0x34];
const light = [0xe8, 0xee, 0xf7];
for (let y = 0; y < size; y += 1) for (let x = 0; x < size; x += 1) put(x, y, background);
function disc(cx, cy, r, color) {
  for (let y = cy - r; y <= cy + r; y += 1) for (let x = cx - r; x <= cx + r; x += 1) {
    if ((x - cx) ** 2 + (y - cy) ** 2 <= r * r) put(x, y, color);
  }
}
function line(x0, y0, x1, y1, width, color) {
  const steps = Math.max(Math.abs(x1 - x0), Math.abs(y1 - y0)) * 2;
  for (let s = 0; s <= steps; s += 1) {
    disc(Math.round(x0 + ((x1 - x0) * s) / steps), Math.round(y0 + ((y1 - y0) * s) / steps), width, color);
  }
}
// Two lanes joining into one: a pipeline whose steps meet at a gate.
line(28, 34, 70, 34, 5, light); line(70, 34, 84, 64, 5, light);
line(28, 94, 70, 94, 5, light); line(70, 94, 84, 64, 5, light);
line(84, 64, 100, 64, 5, light);
disc(28, 34, 12, light); disc(28, 94, 12, light); disc(100, 64, 14, accent);

const raw = Buffer.alloc(size * (size * 4 + 1));
for (let y = 0; y < size; y += 1) pixels.copy(raw, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}
const header = Buffer.alloc(13);
header.writeUInt32BE(size, 0); header.writeUInt32BE(size, 4);
header[8] = 8; header[9] = 6; // 8-bit RGBA
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', header),
  chunk('IDAT', zlib.deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
fs.writeFileSync(path.join(__dirname, '..', 'media', 'icon.png'), png);
