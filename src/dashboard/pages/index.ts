/**
 * The admin pages, in nav order. A page plugs into the dashboard by being listed here: the
 * server serves its HTML, scripts and API routes and enforces login, CSRF and roles for it.
 */
import type { PageModule } from '../types.js';
import { alertsPage } from './alerts.js';
import { connectorsPage } from './connectors.js';
import { filterPage } from './filter.js';
import { queuePage } from './queue.js';
import { quarantinePage } from './quarantine.js';
import { syncPage } from './sync.js';

export const pages: readonly PageModule[] = [
  connectorsPage,
  syncPage,
  filterPage,
  quarantinePage,
  queuePage,
  alertsPage,
];
