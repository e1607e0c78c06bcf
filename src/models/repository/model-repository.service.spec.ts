import { Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { AllConfig } from '../../config/app-config';
import { ModelRepositoryService } from './model-repository.service';

const configFor = (dir: string) => ({ getOrThrow: () => dir }) as unknown as ConfigService<AllConfig, true>;

async function writeModel(root: string, folder: string, manifest: unknown, versions: string[] = []): Promise<void> {
  const dir = join(root, folder);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'model.json'), typeof manifest === 'string' ? manifest : JSON.stringify(manifest));
  for (const version of versions) {
    await mkdir(join(dir, version), { recursive: true });
    await writeFile(join(dir, version, 'model.onnx'), 'not really onnx: the repository never parses it');
  }
}

/** A model folder without model.json whose version folders hold the given files. */
async function writeOnnxFiles(root: string, folder: string, versions: Record<string, string[]>): Promise<void> {
  for (const [version, files] of Object.entries(versions)) {
    await mkdir(join(root, folder, version), { recursive: true });
    for (const file of files) await writeFile(join(root, folder, version, file), 'x');
  }
}

describe('ModelRepositoryService', () => {
  let root: string;
  let sut: ModelRepositoryService;

  beforeAll(async () => {
    // Unreadable model.json files are logged on purpose here.
    Logger.overrideLogger(false);
    root = await mkdtemp(join(tmpdir(), 'model-repo-'));
    await writeModel(root, 'iris', { name: 'iris', features: ['a', 'b'] }, ['2', '10', '1']);
    await writeModel(root, 'broken-json', '{ "name": "broken-json", ', ['1']);
    await writeModel(root, 'misnamed', { name: 'something-else' }, ['1']);
    await writeModel(root, 'odd-versions', { name: 'odd-versions' }, ['v1', '0', '01', '3', '-1', '1.5']);
    await mkdir(join(root, 'odd-versions', '4'));
    await writeFile(join(root, 'odd-versions', '5'), 'a file, not a folder');
    await mkdir(join(root, 'no-manifest', '1'), { recursive: true });
    await writeFile(join(root, 'no-manifest', '1', 'model.onnx'), 'x');
    await writeModel(root, 'unnamed', { description: 'no name: the folder gives it' }, ['1']);
    await mkdir(join(root, 'manifest-dir', 'model.json'), { recursive: true });
    await writeFile(join(root, 'manifest-dir', 'model.json', 'x'), '');
    await writeOnnxFiles(root, 'files', {
      '1': ['inference.onnx', 'inference.pdiparams.info'],
      '2': ['a.onnx', 'b.ONNX', 'notes.txt'],
      '3': ['a.onnx', 'model.onnx'],
      '4': ['weights.bin', 'README.md'],
      '5': [],
    });
    // A folder named like a model file is no candidate; a link to a file is one.
    await mkdir(join(root, 'files', '6', 'old.onnx'), { recursive: true });
    await writeFile(join(root, 'elsewhere.bin'), 'x');
    await symlink(join(root, 'elsewhere.bin'), join(root, 'files', '6', 'linked.onnx'));
    await mkdir(join(root, '.cache'));
    await writeFile(join(root, 'README.md'), '# models');
    sut = new ModelRepositoryService(configFor(root));
  });

  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  describe('discover', () => {
    it('lists model folders by name, skipping hidden folders and files', async () => {
      // Act
      const models = await sut.discover();

      // Assert
      expect(models.map((m) => m.name)).toEqual(['broken-json', 'files', 'iris', 'manifest-dir', 'misnamed', 'no-manifest', 'odd-versions', 'unnamed']);
    });

    it('reads a valid model with its manifest and versions sorted numerically', async () => {
      // Act
      const iris = (await sut.discover()).find((m) => m.name === 'iris')!;

      // Assert
      expect(iris.dir).toBe(join(root, 'iris'));
      expect(iris.manifest).toEqual({ name: 'iris', features: ['a', 'b'] });
      expect(iris.manifestError).toBeUndefined();
      expect([...iris.versions.keys()]).toEqual([1, 2, 10]);
      expect(iris.versions.get(2)).toEqual({ path: join(root, 'iris', '2', 'model.onnx') });
    });
  });

  describe('find', () => {
    it('reports unparsable JSON as the reason the model is unusable, still listing its versions', async () => {
      // Act
      const model = await sut.find('broken-json');

      // Assert
      expect(model?.manifest).toBeUndefined();
      expect(model?.manifestError).toMatch(/^model\.json unreadable: /);
      expect([...model!.versions.keys()]).toEqual([1]);
    });

    it('serves a folder without model.json as the model named by its folder, with no error', async () => {
      // Act
      const model = await sut.find('no-manifest');

      // Assert
      expect(model?.manifest).toEqual({ name: 'no-manifest' });
      expect(model?.manifestError).toBeUndefined();
      expect(model?.versions.get(1)).toEqual({ path: join(root, 'no-manifest', '1', 'model.onnx') });
    });

    it('names a model.json without a name after its folder', async () => {
      // Act
      const model = await sut.find('unnamed');

      // Assert
      expect(model?.manifest).toEqual({ name: 'unnamed', description: 'no name: the folder gives it' });
      expect(model?.manifestError).toBeUndefined();
    });

    it('still refuses a model.json that exists but cannot be read (a folder of that name)', async () => {
      // Act
      const model = await sut.find('manifest-dir');

      // Assert
      expect(model?.manifest).toBeUndefined();
      expect(model?.manifestError).toBe('model.json unreadable: a directory, not a file');
    });

    it('reports a manifest whose name differs from its folder', async () => {
      // Act
      const model = await sut.find('misnamed');

      // Assert
      expect(model?.manifest).toBeUndefined();
      expect(model?.manifestError).toBe("model.json invalid: name 'something-else' must equal its folder name 'misnamed'");
    });

    it("ignores version folders that are not positive integers ('v1', '0', '01') and files; keeps a numbered folder without model.onnx (its load fails, naming the file)", async () => {
      // Act
      const model = await sut.find('odd-versions');

      // Assert
      expect(model?.manifestError).toBeUndefined();
      expect([...model!.versions.keys()]).toEqual([3, 4]);
      expect(model!.versions.get(4)).toEqual({ problem: 'no model.onnx in odd-versions/4/ and no other .onnx file (it is empty)' });
    });

    describe('model file discovery', () => {
      it('takes the only .onnx file of a version folder whatever its name; model.onnx wins among several', async () => {
        // Act
        const model = await sut.find('files');

        // Assert
        expect(model!.versions.get(1)).toEqual({ path: join(root, 'files', '1', 'inference.onnx') });
        expect(model!.versions.get(3)).toEqual({ path: join(root, 'files', '3', 'model.onnx') });
      });

      it('names every candidate when several .onnx files and none is model.onnx (the extension in any case)', async () => {
        // Act
        const model = await sut.find('files');

        // Assert
        expect(model!.versions.get(2)).toEqual({
          problem: 'several .onnx files in files/2/ and none named model.onnx (a.onnx, b.ONNX): keep one, or name the one to serve model.onnx',
        });
      });

      it('names what a folder without any .onnx file holds, or that it is empty, relative to the repository', async () => {
        // Act
        const model = await sut.find('files');

        // Assert
        expect(model!.versions.get(4)).toEqual({ problem: 'no model.onnx in files/4/ and no other .onnx file (it holds README.md, weights.bin)' });
        expect(model!.versions.get(5)).toEqual({ problem: 'no model.onnx in files/5/ and no other .onnx file (it is empty)' });
        expect(JSON.stringify([...model!.versions.values()].map((v) => v.problem))).not.toContain(root);
      });

      it('follows a symbolic link to a file, and ignores a folder named like a model file', async () => {
        // Act
        const model = await sut.find('files');

        // Assert
        expect(model!.versions.get(6)).toEqual({ path: join(root, 'files', '6', 'linked.onnx') });
      });
    });

    it('answers undefined for a model that does not exist', async () => {
      // Act
      const model = await sut.find('nope');

      // Assert
      expect(model).toBeUndefined();
    });

    it.each(['../iris', 'iris/1', '.cache', '', 'x'.repeat(65)])('answers undefined for the unsafe or hidden name %j', async (name) => {
      // Act
      const model = await sut.find(name);

      // Assert
      expect(model).toBeUndefined();
    });

    it('reads afresh, so a version added after boot is found', async () => {
      // Arrange
      await writeModel(root, 'growing', { name: 'growing' }, ['1']);
      const before = await sut.find('growing');

      // Act
      await writeModel(root, 'growing', { name: 'growing' }, ['2']);
      const after = await sut.find('growing');
      await rm(join(root, 'growing'), { recursive: true });

      // Assert
      expect([...before!.versions.keys()]).toEqual([1]);
      expect([...after!.versions.keys()]).toEqual([1, 2]);
    });
  });

  describe('isReadable', () => {
    it('is true for an existing root', async () => {
      // Act
      const readable = await sut.isReadable();

      // Assert
      expect(readable).toBe(true);
    });

    it('is false for a missing root, and discover then throws', async () => {
      // Arrange
      const missing = new ModelRepositoryService(configFor(join(root, 'does-not-exist')));

      // Act
      const readable = await missing.isReadable();

      // Assert
      expect(readable).toBe(false);
      await expect(missing.discover()).rejects.toThrow('ENOENT');
    });
  });

  it('exposes the root it reads', () => {
    // Assert
    expect(sut.root).toBe(root);
  });
});
