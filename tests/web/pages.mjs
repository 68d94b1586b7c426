// The pages' own browser tests (run.mjs GROUP): filled in as the pages are built.
export const PAGE_TESTS = {};
