import { writeFileSync } from 'node:fs';
import { repoPath } from './common.js';
import { DASHBOARDS, renderDashboard } from './index.js';
import { readPanelIds, writePanelIds } from './panel-ids.js';

// `npm run dashboards`: regenerates the JSON that Grafana provisions, and gives new panels their ids in
// panel-ids.yaml; a test fails while the committed files are stale.
const ids = readPanelIds();
for (const { file, build } of DASHBOARDS) {
  writeFileSync(repoPath(`dashboards/${file}`), renderDashboard(build(ids)));
  console.log(`wrote dashboards/${file}`);
}
writePanelIds(ids);
console.log('wrote dashboards/panel-ids.yaml');
