"""Build the C core, reloader._core, from src/*.c.

RELOADER_DEBUG_BUILD=1  -O0 -g3 with assertions on
RELOADER_SANITIZE=1     AddressSanitizer + UndefinedBehaviorSanitizer
"""
import glob
import os

from setuptools import Extension, setup

compile_args = ["-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"]
link_args = []
# Release builds keep CPython's NDEBUG: with assert() on, the headers' inline
# accessors (PyTuple_GET_SIZE, ...) carry checks and are not inlined.
undef = []
if os.environ.get("RELOADER_DEBUG_BUILD") == "1":
    compile_args += ["-O0", "-g3"]
    undef = ["NDEBUG"]
if os.environ.get("RELOADER_SANITIZE") == "1":
    san = ["-fsanitize=address,undefined", "-fno-omit-frame-pointer", "-g"]
    compile_args += san + ["-O1"]
    link_args += san
    undef = ["NDEBUG"]
if os.environ.get("RELOADER_WERROR") == "1":
    compile_args.append("-Werror")

setup(
    ext_modules=[
        Extension(
            "reloader._core",
            sources=sorted(glob.glob("src/*.c")),
            depends=sorted(glob.glob("src/*.h")),
            include_dirs=["src"],
            extra_compile_args=compile_args,
            extra_link_args=link_args,
            undef_macros=undef,
        )
    ]
)
