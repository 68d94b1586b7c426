// The pages' own browser tests (run.mjs GROUP): filled in as the pages are built.
import {OPS_TESTS} from './ops_pages.mjs';
import {releases, rollouts} from './releases_rollouts.mjs';

export const PAGE_TESTS = {releases, rollouts, ...OPS_TESTS};
