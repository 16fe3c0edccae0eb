import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openDb } from '../../../../src/storage/sqlite.js';
import { SqliteStateStore } from '../../../../src/storage/state/sqlite-store.js';
import { MIGRATIONS } from '../../../../src/storage/state-db.js';
import { tempDir } from '../../../helpers/tmp.js';

describe('SqliteStateStore', () => {
  it('can be built over a state db of every older schema version (statements are prepared at first use: upgrades open old ones)', () => {
    const dir = tempDir('state-repos');
    for (let version = 0; version <= MIGRATIONS.length; version++) {
      const db = openDb(join(dir, `v${version}.db`), MIGRATIONS.slice(0, version));
      expect(() => new SqliteStateStore(db), `schema version ${version}`).not.toThrow();
      db.close();
    }
  });
});
