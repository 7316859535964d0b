#!/usr/bin/env python3
"""Builds one shader variant: GLSL -> SPIR-V (glslang), validated (spirv-val), optimized (spirv-opt -O),
validated again. Usage: compile_shader.py GLSLANG SPIRV_VAL SPIRV_OPT INPUT OUTPUT DEPFILE [DEFINE...]"""
import os
import subprocess
import sys
import tempfile

TARGET_ENV = "vulkan1.2"


def run(cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.stderr.write(f"shader build step failed: {' '.join(cmd)}\n{result.stdout}{result.stderr}")
        sys.exit(1)


def main():
    glslang, spirv_val, spirv_opt, source, output, depfile, *defines = sys.argv[1:]
    with tempfile.TemporaryDirectory() as tmp:
        raw = os.path.join(tmp, "raw.spv")
        run([glslang, "-V", "--target-env", TARGET_ENV, "-S", "comp", *[f"-D{d}" for d in defines],
             "--depfile", depfile, "-o", raw, source])
        run([spirv_val, "--target-env", TARGET_ENV, raw])
        run([spirv_opt, "-O", "--target-env=" + TARGET_ENV, raw, "-o", output])
        run([spirv_val, "--target-env", TARGET_ENV, output])


if __name__ == "__main__":
    main()
