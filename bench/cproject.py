"""A generated C program at two versions, compiled with gcc into executables and shared
libraries: the "recompiled binaries" scenario of ``bench_packs.py``.

Forty-eight modules of generated functions (loops over tables, switch statements with
string literals, struct updates, formatting, hashing, polynomials over constant tables)
make three shared libraries and the own code of three executables, which link the
libraries. Version 2 differs as a real release does:

- about one function in fifteen has an edited body (another constant, an extra step);
- ``struct entity`` gains a field in the middle, so every function that touches a later
  field reads other offsets;
- constants of ``common.h`` change (``MAX_ENTITIES``, the version string);
- a module is added to the engine library and called from the game.

The program never runs; only its binaries matter. Generation is deterministic, so two runs
compile the same sources (gcc's own output is deterministic for the same input and flags).
"""

from __future__ import annotations

import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

MODULES = 48
FUNCTIONS = 160
"""Functions per module: with -O2, libraries of 0.6-0.9 MB, executables of 0.1-0.4 MB."""
LIBRARIES = {
    "engine": range(0, 14),
    "render": range(14, 26),
    "audio": range(26, 36),
}
EXECUTABLES = {
    "game": ("engine", "render", "audio"),
    "editor": ("engine", "render"),
    "server": ("engine",),
}
OWN_MODULES = {"game": range(36, 42), "editor": range(42, 46), "server": range(46, 48)}
"""Modules linked into each executable itself."""
EDITED_SHARE = 1 / 15
CFLAGS = ("-O2", "-fPIC", "-w", "-fno-asynchronous-unwind-tables")


@dataclass(frozen=True)
class Version:
    number: int

    @property
    def second(self) -> bool:
        return self.number == 2


def common_header(v: Version) -> str:
    extra = "    int shield;            /* new in version 2 */\n" if v.second else ""
    return f"""#ifndef COMMON_H
#define COMMON_H
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <math.h>
#define MAX_ENTITIES {320 if v.second else 256}
#define TABLE_SIZE 64
#define VERSION_STRING "{"1.4.2" if v.second else "1.4.1"} (build {2207 if v.second else 2141})"
struct entity {{
    int id;
    float x, y, z;
    float vx, vy, vz;
{extra}    int health;
    int flags;
    char name[32];
    struct entity *target;
}};
struct world {{
    struct entity entities[MAX_ENTITIES];
    int count;
    double clock;
    unsigned seed;
}};
#endif
"""


def _function(module: int, index: int, v: Version, edited: bool) -> tuple[str, str]:
    """(prototype, body) of one generated function, the same text in both versions unless
    ``edited``."""
    rng = random.Random(module * 10_000 + index)
    name = f"m{module:02}_f{index:03}"
    kind = rng.randrange(6)
    k = [rng.randrange(3, 997) for _ in range(6)]
    if edited and v.second:
        k[rng.randrange(6)] += 1 + rng.randrange(50)
    step = "        acc ^= acc >> 7;\n" if edited and v.second else ""
    callee = f"m{module:02}_f{rng.randrange(index):03}" if index and rng.random() < 0.6 else ""
    if kind == 0:
        proto = f"int {name}(const int *a, int n)"
        call = f"    acc += {callee}(a, n / 2);\n" if callee and _kind(module, callee) == 0 else ""
        body = f"""{proto} {{
    int acc = {k[0]};
    for (int i = 0; i < n; i++) {{
        acc = acc * {k[1]} + a[i] % {k[2]};
        if (acc > {k[3] * 1000}) acc -= {k[4]};
{step}    }}
{call}    return acc ^ {k[5]};
}}
"""
    elif kind == 1:
        proto = f"void {name}(struct entity *e, float dt)"
        body = f"""{proto} {{
    e->x += e->vx * dt * {k[0]}.0f / {k[1]}.0f;
    e->y += e->vy * dt;
    e->z += e->vz * dt - {k[2]}.0f * dt * dt;
    if (e->health < {k[3] % 100}) e->flags |= {1 << (k[4] % 16)};
    if (e->target && e->target->health > 0) e->vx = (e->target->x - e->x) / {k[5]}.0f;
    snprintf(e->name, sizeof e->name, "ent-%d-{name}", e->id);
}}
"""
    elif kind == 2:
        proto = f"const char *{name}(int code)"
        cases = "".join(
            f'    case {k[0] * 16 + i}: return "{name}: message {i} for code {k[(i + 1) % 6]}";\n'
            for i in range(8 + k[0] % 6)
        )
        body = f"""{proto} {{
    switch (code) {{
{cases}    default: return "{name}: unknown code";
    }}
}}
"""
    elif kind == 3:
        proto = f"int {name}(char *buf, size_t len, const struct entity *e)"
        body = f"""{proto} {{
    return snprintf(buf, len, "[{name} %s] id=%d pos=(%.{k[0] % 4}f, %.2f, %.2f) hp=%d/{k[1]} "
                    "flags=%x " VERSION_STRING, e->name, e->id, e->x, e->y, e->z,
                    e->health, e->flags);
}}
"""
    elif kind == 4:
        proto = f"double {name}(double x)"
        table = ", ".join(f"{rng.uniform(-9, 9):.6f}" for _ in range(8 + k[0] % 16))
        body = f"""static const double {name}_table[] = {{{table}}};
{proto} {{
    double r = 0.0;
    int n = (int)(sizeof {name}_table / sizeof {name}_table[0]);
    for (int i = n - 1; i >= 0; i--) r = r * x + {name}_table[i];
    return r / ({k[1]}.0 + fabs(x)) + sin(x * {k[2]}.0 / {k[3]}.0);
}}
"""
    else:
        proto = f"unsigned {name}(const unsigned char *p, size_t n, struct world *w)"
        body = f"""{proto} {{
    unsigned h = {k[0]}u * 2654435761u;
    for (size_t i = 0; i < n; i++) {{
        h = (h ^ p[i]) * {k[1]}u + (h >> {k[2] % 13 + 3});
    }}
    for (int i = 0; i < w->count && i < MAX_ENTITIES; i++) {{
        h += (unsigned)w->entities[i].health * {k[3]}u + (unsigned)w->entities[i].flags;
    }}
    w->seed = h ^ {k[4]}u;
    return h % {k[5]}u;
}}
"""
    return proto, body


def _kind(module: int, name: str) -> int:
    index = int(name.rsplit("_f", 1)[1])
    return random.Random(module * 10_000 + index).randrange(6)


def module_source(module: int, v: Version) -> str:
    edits = random.Random(777 + module)
    parts = ['#include "common.h"\n']
    for index in range(FUNCTIONS):
        edited = edits.random() < EDITED_SHARE
        _proto, body = _function(module, index, v, edited)
        parts.append(body)
    return "\n".join(parts)


def main_source(program: str, libraries: tuple[str, ...], v: Version) -> str:
    calls = []
    declarations = []
    for library in libraries:
        first = LIBRARIES[library][0]
        for index in range(0, FUNCTIONS, 7):
            proto, _ = _function(first, index, v, False)
            declarations.append(proto + ";")
            name = proto.split("(")[0].split()[-1].lstrip("*")
            calls.append(f"    (void)&{name};")
    if v.second and program == "game":
        declarations.append("int added_feature(struct world *w);")
        calls.append("    added_feature(&world);")
    return (
        '#include "common.h"\n'
        + "\n".join(declarations)
        + "\nstatic struct world world;\nint main(int argc, char **argv) {\n"
        + f'    printf("{program} " VERSION_STRING "\\n");\n'
        + "\n".join(calls)
        + "\n    return argc > 1 ? (int)strlen(argv[1]) : 0;\n}\n"
    )


ADDED_MODULE = """#include "common.h"
int added_feature(struct world *w) {
    int alive = 0;
    for (int i = 0; i < w->count && i < MAX_ENTITIES; i++) {
        struct entity *e = &w->entities[i];
        if (e->health > 0 && e->shield < 50) { e->shield += 5; alive++; }
    }
    return alive;
}
"""


def write_sources(folder: Path, v: Version) -> None:
    """The version's C sources in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "common.h").write_text(common_header(v))
    for module in range(MODULES):
        (folder / f"m{module:02}.c").write_text(module_source(module, v))
    for program, libraries in EXECUTABLES.items():
        (folder / f"{program}_main.c").write_text(main_source(program, libraries, v))
    if v.second:
        (folder / "added.c").write_text(ADDED_MODULE)


def compile_version(sources: Path, out: Path, v: Version, jobs: int = 2) -> None:
    """gcc -O2 every module, link the libraries into ``out/lib`` and the executables into
    ``out/bin`` (run paths point at ``../lib``)."""
    gcc = shutil.which("gcc")
    if gcc is None:
        raise SystemExit("gcc is needed: apt-get install gcc")
    objects = sources / "obj"
    objects.mkdir(exist_ok=True)
    units = [f"m{m:02}" for m in range(MODULES)] + [f"{p}_main" for p in EXECUTABLES]
    if v.second:
        units.append("added")

    def build(unit: str) -> None:
        subprocess.run(
            [gcc, *CFLAGS, "-c", f"{unit}.c", "-o", f"obj/{unit}.o"], cwd=sources, check=True
        )

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(build, units))
    (out / "lib").mkdir(parents=True, exist_ok=True)
    (out / "bin").mkdir(parents=True, exist_ok=True)
    for library, modules in LIBRARIES.items():
        objs = [f"obj/m{m:02}.o" for m in modules]
        if library == "engine" and v.second:
            objs.append("obj/added.o")
        target = out / "lib" / f"lib{library}.so"
        subprocess.run(
            [gcc, "-shared", "-o", str(target.absolute()), *objs, "-lm"], cwd=sources, check=True
        )
    for program, libraries in EXECUTABLES.items():
        target = out / "bin" / program
        subprocess.run(
            [
                gcc,
                "-o",
                str(target.absolute()),
                f"obj/{program}_main.o",
                *(f"obj/m{m:02}.o" for m in OWN_MODULES[program]),
                f"-L{(out / 'lib').absolute()}",
                *(f"-l{lib}" for lib in libraries),
                "-lm",
                "-Wl,-rpath,$ORIGIN/../lib",
            ],
            cwd=sources,
            check=True,
        )


def data_files(out: Path, v: Version) -> None:
    """Files that a release carries beside its binaries: unchanged assets, and a changed
    text file."""
    rng = random.Random(5)
    (out / "data").mkdir(parents=True, exist_ok=True)
    for n in range(4):
        (out / "data" / f"textures{n}.pak").write_bytes(rng.randbytes(1_500_000 + n * 100_000))
    lines = [f"level{n}.name = Level {n}\nlevel{n}.time = {n * 37 % 300}\n" for n in range(2000)]
    if v.second:
        lines[100:110] = [f"level{n}.name = Remade level {n}\n" for n in range(100, 110)]
    (out / "data" / "levels.cfg").write_text("".join(lines))


def build_version(work: Path, number: int, jobs: int = 2) -> Path:
    """The build folder of version ``number`` (1 or 2), generated and compiled under
    ``work`` unless already there."""
    v = Version(number)
    out = work / f"build{number}"
    if (out / "bin" / "game").exists():
        return out
    sources = work / f"src{number}"
    write_sources(sources, v)
    compile_version(sources, out, v, jobs)
    data_files(out, v)
    return out
