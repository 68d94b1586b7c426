#!/usr/bin/env python3
"""Curated mutation check (docs/testing.md "Mutants"): apply each small, named bug of
tools/mutants/mutants.txt to a scratch copy of the tree, build it incrementally, run the
ctest subset that should notice, and report caught / missed.

usage: tools/mutants/run.py [--sample N] [--seed S] [--workdir DIR] [--jobs J] [NAME...]

  NAME...      only these mutants (default: all, or a sample)
  --sample N   N mutants picked by a seed drawn from the git commit (printed; --seed S
               repeats a pick)
  --list       print the mutants and exit
  --workdir    where the scratch copy and its build live (default build/mutants; kept
               between runs, so the next run builds only what changed)

The scratch copy is made from the files git knows in this tree (tracked, or new and not
ignored), with ../shared beside it as a link, so the corpus tests see what they see here.
First the unmutated copy must pass every selected mutant's tests; then, one at a time,
each mutant is applied (its `from` text must occur exactly once in its file), built and
tested, and the file restored. Exit status 0 only when every selected mutant was caught.
Python 3 standard library only."""
import argparse
import os
import random
import re
import shutil
import subprocess
import sys
import time

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
LIST = os.path.join(ROOT, "tools", "mutants", "mutants.txt")


def parse_list(path):
    """Blocks of `key = value` lines, each starting with `[name]`; `\\n` in from/to is a
    newline."""
    muts, cur = [], None
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            m = re.match(r"^\[([a-z0-9][a-z0-9-]*)\]$", line)
            if m:
                cur = {"name": m.group(1), "line": n}
                muts.append(cur)
                continue
            m = re.match(r"^(file|tests|from|to|why)\s*=\s?(.*)$", line)
            if not m or cur is None:
                raise SystemExit("%s:%d: expected [name] or key = value, got %r" % (path, n, line))
            val = m.group(2)
            if m.group(1) in ("from", "to"):
                val = val.replace("\\n", "\n")
            cur[m.group(1)] = val
    names = set()
    for mu in muts:
        for k in ("file", "tests", "from", "to", "why"):
            if k not in mu:
                raise SystemExit("%s:%d: mutant %s has no %s" % (path, mu["line"], mu["name"], k))
        if mu["name"] in names:
            raise SystemExit("%s:%d: mutant %s twice" % (path, mu["line"], mu["name"]))
        names.add(mu["name"])
    return muts


def sh(cmd, cwd=None, log=None, check=False):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True, errors="replace")
    if log:
        with open(log, "a") as f:
            f.write("$ %s\n%s\n" % (" ".join(cmd), p.stdout))
    if check and p.returncode != 0:
        sys.stdout.write(p.stdout[-4000:])
        raise SystemExit("mutants: failed: %s" % " ".join(cmd))
    return p.returncode, p.stdout


def sync_tree(src_dir):
    """Copy the files git knows into src_dir; unchanged files keep their mtime (an
    incremental build), changed ones get the current time, files gone from the tree are
    removed."""
    rc, out = sh(["git", "-C", ROOT, "ls-files", "-z", "-c", "-o", "--exclude-standard"])
    if rc == 0:
        files = [f for f in out.split("\0") if f and os.path.isfile(os.path.join(ROOT, f))]
    else:  # not a git checkout (a release tarball): everything but build output
        files = []
        for d, dirs, fs in os.walk(ROOT):
            dirs[:] = [x for x in dirs if not (d == ROOT and x in ("build", ".git"))]
            files += [os.path.relpath(os.path.join(d, f), ROOT) for f in fs]
    want = set(files)
    for rel in files:
        a, b = os.path.join(ROOT, rel), os.path.join(src_dir, rel)
        try:
            with open(a, "rb") as fa, open(b, "rb") as fb:
                if fa.read() == fb.read():
                    continue
        except FileNotFoundError:
            pass
        os.makedirs(os.path.dirname(b), exist_ok=True)
        shutil.copy2(a, b)
        # a copy that differs is new to the build: the source's older mtime would let an
        # object built from a mutated copy (a run stopped before its restore) look current
        os.utime(b, None)
    for d, _, fs in os.walk(src_dir):
        for f in fs:
            rel = os.path.relpath(os.path.join(d, f), src_dir)
            if rel not in want:
                os.unlink(os.path.join(d, f))


def ctest(build, regex, jobs, log):
    rc, out = sh(["ctest", "--test-dir", build, "-R", regex, "-j", str(jobs), "--timeout", "300",
                  "--no-tests=error"], log=log)
    failed = re.findall(r"^\s*\d+ - (\S+) \(", out, re.M)
    ran = re.search(r"tests passed, \d+ tests failed out of (\d+)", out)
    return rc, failed, int(ran.group(1)) if ran else 0, out


def default_seed():
    """The same sample for the same commit (a CI run can be repeated and a failure
    reproduced); a different one as the code moves on. Outside a git checkout: the time."""
    try:
        head = subprocess.run(["git", "-C", ROOT, "rev-parse", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except OSError:
        head = ""
    return int(head[:8], 16) % 100000 if len(head) >= 8 else int(time.time()) % 100000


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--sample", type=int, default=0)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--workdir", default=os.path.join(ROOT, "build", "mutants"))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--check", action="store_true",
                    help="only check that every mutant still applies (its `from` text occurs "
                         "exactly once in its file), without building: exit 1 naming those "
                         "that do not")
    a = ap.parse_args()
    muts = parse_list(LIST)
    if a.check:
        stale = []
        for m in muts:
            with open(os.path.join(ROOT, m["file"])) as f:
                n = f.read().count(m["from"])
            if n != 1:
                stale.append("%s: its `from` text occurs %d times in %s" % (m["name"], n, m["file"]))
        for line in stale:
            print("STALE   " + line)
        print("mutants: %d of %d apply%s" % (len(muts) - len(stale), len(muts),
              "" if not stale else ": the code moved; update these mutants in "
              "tools/mutants/mutants.txt to the new code (do not delete them)"))
        return 1 if stale else 0
    if a.list:
        for m in muts:
            print("%-34s %-28s %s" % (m["name"], m["file"], m["why"]))
        print("%d mutants" % len(muts))
        return 0
    if a.names:
        by = {m["name"]: m for m in muts}
        unknown = [n for n in a.names if n not in by]
        if unknown:
            raise SystemExit("mutants: no such mutant: %s (--list shows them)" % ", ".join(unknown))
        sel = [by[n] for n in a.names]
    elif a.sample > 0 and a.sample < len(muts):
        seed = a.seed if a.seed is not None else default_seed()
        print("mutants: a sample of %d of %d (--seed %d repeats it)" % (a.sample, len(muts), seed))
        sel = random.Random(seed).sample(muts, a.sample)
    else:
        sel = muts

    t0 = time.time()
    work = os.path.abspath(a.workdir)
    src, build, log = os.path.join(work, "src"), os.path.join(work, "build"), \
        os.path.join(work, "log.txt")
    os.makedirs(src, exist_ok=True)
    open(log, "w").close()
    sync_tree(src)
    shared = os.path.join(os.path.dirname(ROOT), "shared")
    link = os.path.join(work, "shared")
    if os.path.isdir(shared) and not os.path.exists(link):
        os.symlink(shared, link)
    # the browser tests' playwright-core (npm ci, not in git): the copy uses this tree's
    nm = os.path.join(ROOT, "tests", "web", "node_modules")
    nm_link = os.path.join(src, "tests", "web", "node_modules")
    if os.path.isdir(nm) and not os.path.lexists(nm_link):
        os.symlink(nm, nm_link)
    # the debug preset's compiler and sanitizers, without the lx106 and fuzz builds (the
    # mutants are host behaviours) and without this check itself
    if not os.path.exists(os.path.join(build, "CMakeCache.txt")):
        cc = ["-DCMAKE_C_COMPILER=clang"] if shutil.which("clang") else []
        sh(["cmake", "-S", src, "-B", build, "-G", "Ninja", "-DCMAKE_BUILD_TYPE=Debug",
            "-DUPD_SANITIZE=ON", "-DUPD_LX106_TESTS=OFF", "-DUPD_FUZZ=OFF",
            "-DUPD_MUTANTS_SAMPLE=0"] + cc, log=log, check=True)
    print("mutants: building the scratch copy in %s" % build, flush=True)
    sh(["cmake", "--build", build, "-j", str(a.jobs)], log=log, check=True)

    # every selected mutant's tests must pass on the unmutated tree (one regex naming
    # them: CMake's regular expressions take at most 9 groups)
    _, out = sh(["ctest", "--test-dir", build, "-N"], check=True)
    names = re.findall(r"Test\s+#\d+: (\S+)", out)
    want = [t for t in names if any(re.search(m["tests"], t) for m in sel)]
    for m in sel:
        if not any(re.search(m["tests"], t) for t in names):
            raise SystemExit("mutants: %s: no test matches /%s/" % (m["name"], m["tests"]))
    base = "|".join("^%s$" % re.escape(t) for t in want)
    rc, failed, n, out = ctest(build, base, a.jobs, log)
    if rc != 0:
        print(out[-3000:])
        raise SystemExit("mutants: the unmutated tree fails %s: fix that first" % failed)
    # a test skipped here (no browser, no corpus, no PostgreSQL) passes under any mutant
    skipped = re.findall(r"^\s*\d+ - (\S+) \(Skipped\)", out, re.M)
    if skipped:
        raise SystemExit("mutants: %s skipped on the unmutated tree, so it cannot catch a "
                         "mutant: install what it says it needs (ctest -R ... -V) first"
                         % ", ".join(skipped))
    print("mutants: baseline: the %d selected tests pass unmutated" % n, flush=True)

    results = []
    for m in sel:
        path = os.path.join(src, m["file"])
        with open(path) as f:
            orig = f.read()
        count = orig.count(m["from"])
        if count != 1:
            results.append((m, "stale", "its `from` text occurs %d times in %s" % (count, m["file"])))
            print("%-7s %s: %s" % ("STALE", m["name"], results[-1][2]), flush=True)
            continue
        with open(path, "w") as f:
            f.write(orig.replace(m["from"], m["to"]))
        try:
            rc, out = sh(["cmake", "--build", build, "-j", str(a.jobs)], log=log)
            if rc != 0:
                results.append((m, "invalid", "does not compile"))
            else:
                rc, failed, n, _ = ctest(build, m["tests"], a.jobs, log)
                if rc != 0:
                    results.append((m, "caught", "by " + ", ".join(failed or ["ctest"])))
                else:
                    results.append((m, "missed", "%d test(s) of /%s/ pass" % (n, m["tests"])))
        finally:
            with open(path, "w") as f:
                f.write(orig)
        print("%-7s %s: %s" % (results[-1][1].upper(), m["name"], results[-1][2]), flush=True)
    # leave the scratch build matching the tree
    sh(["cmake", "--build", build, "-j", str(a.jobs)], log=log)

    count = {k: sum(r[1] == k for r in results) for k in ("caught", "missed", "stale", "invalid")}
    print("mutants: %d run: %d caught, %d missed, %d stale, %d invalid (%.0f s; log %s)" % (
        len(results), count["caught"], count["missed"], count["stale"], count["invalid"],
        time.time() - t0, log))
    for m, what, detail in results:
        if what != "caught":
            print("  %s %s (%s:%d): %s -- %s" % (what, m["name"], os.path.relpath(LIST, ROOT),
                                                 m["line"], m["why"], detail))
    return 0 if count["caught"] == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
