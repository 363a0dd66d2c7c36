-- Builds a ~200 MB SQLite database from deterministic data and queries it.
-- Run by sqlite.sh with and without libpageflex.so; the output must match.
PRAGMA page_size = 4096;
PRAGMA cache_size = -65536; -- 64 MiB page cache: heap pressure in the program
PRAGMA temp_store = MEMORY;
PRAGMA mmap_size = 268435456; -- reads through a growing file mapping (mmap, mremap)
CREATE TABLE t(id INTEGER PRIMARY KEY, k INTEGER, grp INTEGER, name TEXT, payload TEXT);
BEGIN;
WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000)
INSERT INTO t
SELECT x, (x * 2654435761) % 1000003, x % 1000, printf('name-%08d', (x * 7919) % 1000000),
       printf('%020d%020d%020d%020d%020d%020d%020d%020d', x * 2654435761 % 4294967296,
              x * 40503 % 65536, x * x % 1000000007, x * 31, x * 17, x * 13, x * 11, x * 7)
FROM c;
COMMIT;
CREATE INDEX t_k ON t(k);
CREATE INDEX t_grp_name ON t(grp, name);
SELECT 'rows', count(*), sum(k), sum(length(payload)) FROM t;
SELECT grp, count(*), sum(k), min(name), max(name) FROM t GROUP BY grp ORDER BY grp LIMIT 5 OFFSET 495;
SELECT id, k, name FROM t WHERE k BETWEEN 5000 AND 5040 ORDER BY k, id;
-- A sort without an index: the sorter's memory comes from the heap.
SELECT id, substr(payload, 41, 20) FROM t ORDER BY substr(payload, 41, 20), id LIMIT 5 OFFSET 500000;
SELECT a.grp, count(*), sum(a.k - b.k) FROM t a JOIN t b ON b.id = a.id + 1000
WHERE a.grp < 3 GROUP BY a.grp ORDER BY a.grp;
UPDATE t SET payload = substr(payload, 81) || substr(payload, 1, 80) WHERE id % 7 = 0;
DELETE FROM t WHERE id % 11 = 0;
SELECT 'after', count(*), sum(k), sum(length(payload)), max(payload) FROM t;
SELECT 'hash', sum(unicode(substr(payload, 1 + id % 150, 1)) * (id % 9973)) FROM t;
PRAGMA integrity_check;
