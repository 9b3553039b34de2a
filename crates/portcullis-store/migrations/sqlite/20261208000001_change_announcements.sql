-- PostgreSQL announces changed users and sessions to the nodes' caches (see its migration of
-- the same name). SQLite runs one node, which hears of its own writes directly: nothing to do.
SELECT 1;
