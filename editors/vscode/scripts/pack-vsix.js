#!/usr/bin/env node
'use strict';
// Packs the extension into a .vsix without vsce (an npm tool, unreachable here). A .vsix is a zip
// holding `extension.vsixmanifest` and `[Content_Types].xml` beside `extension/` (the extension's
// files). Usage: node scripts/pack-vsix.js [out.vsix]   (default: drover.vsix here)
// Install it with: code --install-extension drover.vsix

const fs = require('fs');
const path = require('path');
const zlib = require('zlib');
const { crc32 } = require('./crc32');

const ROOT = path.join(__dirname, '..');

/** The extension's files, relative to ROOT: what a user's VS Code needs, no tests or tools. */
function extensionFiles() {
  const files = ['package.json', 'README.md', 'CHANGELOG.md'];
  for (const dir of ['src', 'media']) {
    for (const name of fs.readdirSync(path.join(ROOT, dir)).sort()) files.push(`${dir}/${name}`);
  }
  return files;
}

function xml(text) {
  return String(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const CONTENT_TYPES = {
  '.json': 'application/json', '.js': 'application/javascript', '.md': 'text/markdown',
  '.png': 'image/png', '.svg': 'image/svg+xml', '.vsixmanifest': 'text/xml',
};

function contentTypes(names) {
  const extensions = [...new Set(names.map((name) => path.extname(name).toLowerCase()))].sort();
  const defaults = extensions.map((ext) => {
    if (!CONTENT_TYPES[ext]) throw new Error(`no content type for ${ext} files`);
    return `  <Default Extension="${ext}" ContentType="${CONTENT_TYPES[ext]}"/>`;
  });
  return `<?xml version="1.0" encoding="utf-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\n${defaults.join('\n')}\n</Types>\n`;
}

function manifest(pkg) {
  const icon = pkg.icon ? `extension/${pkg.icon}` : undefined;
  const assets = [
    ['Microsoft.VisualStudio.Code.Manifest', 'extension/package.json'],
    ['Microsoft.VisualStudio.Services.Content.Details', 'extension/README.md'],
    ['Microsoft.VisualStudio.Services.Content.Changelog', 'extension/CHANGELOG.md'],
  ];
  if (icon) assets.push(['Microsoft.VisualStudio.Services.Icons.Default', icon]);
  return `<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011" xmlns:d="http://schemas.microsoft.com/developer/vsx-schema-design/2011">
  <Metadata>
    <Identity Language="en-US" Id="${xml(pkg.name)}" Version="${xml(pkg.version)}" Publisher="${xml(pkg.publisher)}"/>
    <DisplayName>${xml(pkg.displayName)}</DisplayName>
    <Description xml:space="preserve">${xml(pkg.description)}</Description>
    <Tags></Tags>
    <Categories>${xml((pkg.categories || []).join(','))}</Categories>
    <GalleryFlags>Public</GalleryFlags>
    <Properties>
      <Property Id="Microsoft.VisualStudio.Code.Engine" Value="${xml(pkg.engines.vscode)}"/>
      <Property Id="Microsoft.VisualStudio.Code.ExtensionDependencies" Value=""/>
      <Property Id="Microsoft.VisualStudio.Code.ExtensionPack" Value=""/>
      <Property Id="Microsoft.VisualStudio.Code.ExtensionKind" Value="workspace"/>
      <Property Id="Microsoft.VisualStudio.Code.LocalizedLanguages" Value=""/>
      <Property Id="Microsoft.VisualStudio.Services.GitHubFlavoredMarkdown" Value="true"/>
    </Properties>${icon ? `\n    <Icon>${xml(icon)}</Icon>` : ''}
  </Metadata>
  <Installation>
    <InstallationTarget Id="Microsoft.VisualStudio.Code"/>
  </Installation>
  <Dependencies/>
  <Assets>
${assets.map(([type, file]) => `    <Asset Type="${type}" Path="${xml(file)}" Addressable="true"/>`).join('\n')}
  </Assets>
</PackageManifest>
`;
}

/** A zip archive (deflated entries, fixed timestamps so packing twice gives the same bytes). */
function zip(entries) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  const time = 0; // 00:00:00
  const date = ((2024 - 1980) << 9) | (1 << 5) | 1; // 2024-01-01
  for (const { name, data } of entries) {
    const nameBytes = Buffer.from(name, 'utf8');
    const compressed = zlib.deflateRawSync(data, { level: 9 });
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0); local.writeUInt16LE(20, 4); local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(8, 8); local.writeUInt16LE(time, 10); local.writeUInt16LE(date, 12);
    local.writeUInt32LE(crc, 14); local.writeUInt32LE(compressed.length, 18); local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(nameBytes.length, 26); local.writeUInt16LE(0, 28);
    locals.push(local, nameBytes, compressed);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0); central.writeUInt16LE(0x0314, 4); central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8); central.writeUInt16LE(8, 10); central.writeUInt16LE(time, 12);
    central.writeUInt16LE(date, 14); central.writeUInt32LE(crc, 16); central.writeUInt32LE(compressed.length, 20);
    central.writeUInt32LE(data.length, 24); central.writeUInt16LE(nameBytes.length, 28);
    central.writeUInt32LE((0o100644 << 16) >>> 0, 38); central.writeUInt32LE(offset, 42);
    centrals.push(central, nameBytes);
    offset += local.length + nameBytes.length + compressed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0); end.writeUInt16LE(entries.length, 8); end.writeUInt16LE(entries.length, 10);
  end.writeUInt32LE(directory.length, 12); end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** Reads a zip written by zip() (or any zip without zip64): [{name, data}]. For the tests. */
function unzip(buffer) {
  const endAt = buffer.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (endAt < 0) throw new Error('not a zip: no end of central directory');
  const count = buffer.readUInt16LE(endAt + 10);
  let at = buffer.readUInt32LE(endAt + 16);
  const entries = [];
  for (let i = 0; i < count; i += 1) {
    if (buffer.readUInt32LE(at) !== 0x02014b50) throw new Error('bad central directory');
    const method = buffer.readUInt16LE(at + 10);
    const crc = buffer.readUInt32LE(at + 16);
    const size = buffer.readUInt32LE(at + 20);
    const nameLength = buffer.readUInt16LE(at + 28);
    const extra = buffer.readUInt16LE(at + 30) + buffer.readUInt16LE(at + 32);
    const localAt = buffer.readUInt32LE(at + 42);
    const name = buffer.subarray(at + 46, at + 46 + nameLength).toString('utf8');
    const dataAt = localAt + 30 + buffer.readUInt16LE(localAt + 26) + buffer.readUInt16LE(localAt + 28);
    const raw = buffer.subarray(dataAt, dataAt + size);
    const data = method === 8 ? zlib.inflateRawSync(raw) : Buffer.from(raw);
    if (crc32(data) !== crc) throw new Error(`CRC mismatch in ${name}`);
    entries.push({ name, data });
    at += 46 + nameLength + extra;
  }
  return entries;
}

function pack(out) {
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  const files = extensionFiles();
  const entries = [
    { name: 'extension.vsixmanifest', data: Buffer.from(manifest(pkg), 'utf8') },
    ...files.map((file) => ({ name: `extension/${file}`, data: fs.readFileSync(path.join(ROOT, file)) })),
  ];
  entries.unshift({ name: '[Content_Types].xml', data: Buffer.from(contentTypes(entries.map((e) => e.name)), 'utf8') });
  fs.writeFileSync(out, zip(entries));
  return entries.map((e) => e.name);
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] || path.join(ROOT, 'drover.vsix'));
  const names = pack(out);
  console.log(`wrote ${out} (${names.length} files)`);
}

module.exports = { pack, unzip, manifest, extensionFiles };
