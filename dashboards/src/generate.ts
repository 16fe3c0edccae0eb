import { writeFileSync } from 'node:fs';
import { repoPath } from './common.js';
import { DASHBOARDS, renderDashboard } from './index.js';

// `npm run dashboards`: regenerates the JSON that Grafana provisions; a test fails while the committed files are stale.
for (const { file, build } of DASHBOARDS) {
  writeFileSync(repoPath(`dashboards/${file}`), renderDashboard(build()));
  console.log(`wrote dashboards/${file}`);
}
