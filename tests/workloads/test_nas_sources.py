"""recapp's NAS kernels (workloads/nas/src) agree with their Makefile, records.yaml, the APP recipe and
the official NPB verification values.

Pure text checks: no compiler, no MPI, no podman (the `make -n` test needs GNU make only). The
values below are a second, independent copy of the official NPB numbers, each with the NPB source
file and routine it comes from, so an edit to a constant in the C sources fails here.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from recapp.builder import recipe as recipes

SRC = Path(__file__).resolve().parents[2] / "workloads" / "nas" / "src"
KERNELS = ("ep", "is", "cg")
CLASSES = ("S", "W", "A")
BINARIES = [f"{k}.{c}.x" for k in KERNELS for c in CLASSES]

# NPB3.3-MPI EP/ep.f (program EMBAR, verification block): signed sums sx, sy.
# NPB3.4-MPI EP/verify.f90 (subroutine verify): sums of |X|, |Y| and the Gaussian pair count.
EP = {
    "S": {
        "M": "24",
        "SX_VERIFY_33": "-3.247834652034740e+3",
        "SY_VERIFY_33": "-6.958407078382297e+3",
        "SX_VERIFY_34": "1.051299420395306e+07",
        "SY_VERIFY_34": "1.051517131857535e+07",
        "GC_VERIFY_34": "13176389.0",
    },
    "W": {
        "M": "25",
        "SX_VERIFY_33": "-2.863319731645753e+3",
        "SY_VERIFY_33": "-6.320053679109499e+3",
        "SX_VERIFY_34": "2.102505525182392e+07",
        "SY_VERIFY_34": "2.103162209578822e+07",
        "GC_VERIFY_34": "26354769.0",
    },
    "A": {
        "M": "28",
        "SX_VERIFY_33": "-4.295875165629892e+3",
        "SY_VERIFY_33": "-1.580732573678431e+4",
        "SX_VERIFY_34": "1.682235632304711e+08",
        "SY_VERIFY_34": "1.682195123368299e+08",
        "GC_VERIFY_34": "210832767.0",
    },
}
# NPB3.3-MPI IS/is.c: the CLASS S/W/A parameter blocks, {S,W,A}_test_index_array and
# {S,W,A}_test_rank_array, and the per-class expected-rank rule in rank().
IS = {
    "S": {
        "TOTAL_KEYS_LOG_2": "16",
        "MAX_KEY_LOG_2": "11",
        "NUM_BUCKETS_LOG_2": "9",
        "test_index_array": [48427, 17148, 23627, 62548, 4431],
        "test_rank_array": [0, 18, 346, 64917, 65463],
        "EXPECTED_RANK": "((i) <= 2 ? test_rank_array[i] + (it) : test_rank_array[i] - (it))",
    },
    "W": {
        "TOTAL_KEYS_LOG_2": "20",
        "MAX_KEY_LOG_2": "16",
        "NUM_BUCKETS_LOG_2": "10",
        "test_index_array": [357773, 934767, 875723, 898999, 404505],
        "test_rank_array": [1249, 11698, 1039987, 1043896, 1048018],
        "EXPECTED_RANK": "((i) < 2 ? test_rank_array[i] + ((it) - 2) : test_rank_array[i] - (it))",
    },
    "A": {
        "TOTAL_KEYS_LOG_2": "23",
        "MAX_KEY_LOG_2": "19",
        "NUM_BUCKETS_LOG_2": "10",
        "test_index_array": [2112377, 662041, 5336171, 3642833, 4250760],
        "test_rank_array": [104, 17523, 123928, 8288932, 8388264],
        "EXPECTED_RANK": "((i) <= 2 ? test_rank_array[i] + ((it) - 1) : test_rank_array[i] - ((it) - 1))",
    },
}
# NPB3.3-SER CG/cg.f main program (class checks, zeta_verify_value) and CG/globals.h (parameters).
CG = {
    "S": {
        "NA": "1400",
        "NONZER": "7",
        "NITER": "15",
        "SHIFT": "10.0",
        "ZETA_VERIFY_VALUE": "8.5971775078648",
    },
    "W": {
        "NA": "7000",
        "NONZER": "8",
        "NITER": "15",
        "SHIFT": "12.0",
        "ZETA_VERIFY_VALUE": "10.362595087124",
    },
    "A": {
        "NA": "14000",
        "NONZER": "11",
        "NITER": "15",
        "SHIFT": "20.0",
        "ZETA_VERIFY_VALUE": "17.130235054029",
    },
}
# Constants shared by every class: kernel → {name: value} (same NPB files as above).
COMMON = {
    "ep": {"MK": "16", "EPSILON": "1.0e-8", "SEED": "UINT64_C(271828183)"},
    "is": {"MAX_ITERATIONS": "10", "TEST_ARRAY_SIZE": "5", "SEED": "UINT64_C(314159265)"},
    "cg": {"RCOND": "0.1", "CGITMAX": "25", "EPSILON": "1.0e-10", "SEED": "UINT64_C(314159265)"},
}
# The NPB source file each class block must cite in a comment.
CITATIONS = {"ep": ["EP/ep.f", "EP/verify.f90"], "is": ["IS/is.c"], "cg": ["CG/cg.f"]}

# One or more adjacent C string literals ("a" "b" is one string to the compiler).
LITERALS = re.compile(r'(?:"(?:\\.|[^"\\\n])*"\s*)+')
LITERAL = re.compile(r'"((?:\\.|[^"\\\n])*)"')
UNQUOTED_VALUE = re.compile(r"%(?:\.\d+)?(?:d|s|f|ld|lu|lld)")
# `#define NAME value` or `#define NAME(args) value`, a trailing comment dropped.
DEFINE = re.compile(r"^#define\s+(\w+)(?:\([^)]*\))?\s+(.+?)\s*(?:/\*.*)?$", re.MULTILINE)
ARRAY = re.compile(r"static const long (\w+)\[TEST_ARRAY_SIZE\] = \{([^}]*)\};")


def source(kernel: str) -> str:
    return (SRC / f"{kernel}.c").read_text()


def makefile() -> str:
    return (SRC / "Makefile").read_text()


def make_variable(name: str) -> list[str]:
    match = re.search(rf"^{name}\s*=\s*(.+)$", makefile(), re.MULTILINE)
    assert match, f"Makefile has no {name} line"
    return match.group(1).split()


def class_blocks(text: str) -> dict[str, str]:
    """The text of each class's branch of `#if NPB_CLASS_ID == NPB_CLASS_S / #elif … W / #else A`."""
    match = re.search(
        r"^#if NPB_CLASS_ID == NPB_CLASS_S\n(?P<S>.*?)^#elif NPB_CLASS_ID == NPB_CLASS_W\n(?P<W>.*?)"
        r"^#else /\* A \*/\n(?P<A>.*?)^#endif",
        text,
        re.MULTILINE | re.DOTALL,
    )
    assert match, "no S/W/A class blocks"
    return match.groupdict()


def defines(text: str) -> dict[str, str]:
    """`#define NAME value` → {NAME: value}, outer parentheses of a plain number removed."""
    out = {}
    for name, value in DEFINE.findall(text):
        if re.fullmatch(r"\(-?[\d.e+]+\)", value):
            value = value[1:-1]
        out[name] = value
    return out


def c_strings(text: str) -> list[str]:
    out = []
    for group in LITERALS.finditer(text):
        joined = "".join(LITERAL.findall(group.group(0)))
        out.append(joined.replace('\\"', '"').replace("\\n", "\n"))
    return out


def record_format(tag: str) -> str:
    formats = [
        s
        for path in sorted(SRC.glob("*.[ch]"))
        for s in c_strings(path.read_text())
        if s.startswith(tag + " ")
    ]
    assert len(formats) == 1, f"{tag}: expected one printf format, found {formats}"
    return formats[0]


def records() -> dict:
    return yaml.safe_load((SRC / "records.yaml").read_text())["records"]


# ---- Makefile --------------------------------------------------------------------------------------


def test_makefile_lists_every_kernel_and_class() -> None:
    assert make_variable("KERNELS") == list(KERNELS)
    assert make_variable("CLASSES") == list(CLASSES)
    assert make_variable("PROGRAMS") == BINARIES
    assert sorted(p.stem for p in SRC.glob("*.c")) == sorted(KERNELS)


@pytest.mark.parametrize("kernel", KERNELS)
def test_makefile_builds_each_class_warning_clean(kernel: str) -> None:
    text = makefile()
    flags = re.search(r"^WARNFLAGS\s*=\s*(.+)$", text, re.MULTILINE)
    assert flags and set(flags.group(1).split()) >= {"-Wall", "-Wextra", "-Werror"}
    rule = re.search(rf"^{kernel}\.%\.x: {kernel}\.c npb\.h\n\t(.+)$", text, re.MULTILINE)
    assert rule, f"no pattern rule for {kernel}.CLASS.x"
    recipe = rule.group(1)
    assert recipe.startswith("$(MPICC) ")
    for part in ("$(WARNFLAGS)", "-DCLASS=$*", f"-o $@ {kernel}.c", "$(LDLIBS)"):
        assert part in recipe


@pytest.mark.skipif(shutil.which("make") is None, reason="GNU make is not installed on this machine")
@pytest.mark.parametrize(("args", "bindir"), [([], "/usr/local/bin"), (["PREFIX=/opt/app"], "/opt/app/bin")])
def test_make_install_compiles_every_binary_and_honours_destdir(
    tmp_path: Path, args: list[str], bindir: str
) -> None:
    work = tmp_path / "nas"
    shutil.copytree(SRC, work)
    out = subprocess.run(
        ["make", "-n", "-C", str(work), "install", "DESTDIR=/stage", *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for kernel in KERNELS:
        for cls in CLASSES:
            assert re.search(rf"-DCLASS={cls} -o {kernel}\.{cls}\.x {kernel}\.c\b", out), (kernel, cls)
    assert f"install -m 0755 {' '.join(BINARIES)} /stage{bindir}/" in out


# ---- official verification values, with their citations -----------------------------------------


@pytest.mark.parametrize(("kernel", "table"), [("ep", EP), ("is", IS), ("cg", CG)])
@pytest.mark.parametrize("cls", CLASSES)
def test_class_block_has_the_official_values(kernel: str, table: dict, cls: str) -> None:
    block = class_blocks(source(kernel))[cls]
    found = defines(block)
    arrays = {name: [int(v) for v in values.split(",")] for name, values in ARRAY.findall(block)}
    for name, expected in table[cls].items():
        actual = arrays.get(name) if isinstance(expected, list) else found.get(name)
        assert actual == expected, f"{kernel}.c class {cls}: {name} = {actual!r}, NPB says {expected!r}"


@pytest.mark.parametrize("kernel", KERNELS)
@pytest.mark.parametrize("cls", CLASSES)
def test_class_block_cites_the_npb_source(kernel: str, cls: str) -> None:
    block = class_blocks(source(kernel))[cls]
    comments = " ".join(re.findall(r"/\*(.*?)\*/", block, re.DOTALL))
    for citation in CITATIONS[kernel]:
        assert citation in comments, f"{kernel}.c class {cls}: no comment citing {citation}"


@pytest.mark.parametrize("kernel", KERNELS)
def test_class_independent_constants(kernel: str) -> None:
    found = defines(source(kernel))
    for name, expected in COMMON[kernel].items():
        assert found.get(name) == expected, f"{kernel}.c: {name} = {found.get(name)!r}"


def test_generator_is_npbs_randlc() -> None:
    header = (SRC / "npb.h").read_text()
    found = defines(header)
    assert found["NPB_MULT"] == "UINT64_C(1220703125)"  # 5^13, randlc's a in every kernel
    assert 5**13 == 1220703125
    assert found["NPB_MASK46"] == "((UINT64_C(1) << 46) - 1)"
    assert found["NPB_R46"] == "(1.0 / 70368744177664.0)" and 2**46 == 70368744177664


# ---- output contract ------------------------------------------------------------------------------


@pytest.mark.parametrize("tag", ["RANK", "NPB_RESULT"])
def test_record_format_has_the_documented_keys_in_order(tag: str) -> None:
    fmt = record_format(tag)
    assert fmt.endswith("\n") and fmt.count("\n") == 1
    keys = []
    for token in fmt.rstrip("\n").split(" ")[1:]:
        key, sep, value = token.partition("=")
        assert sep and UNQUOTED_VALUE.fullmatch(value), f"bad pair {token!r}"
        keys.append(key)
    assert keys == records()[tag]["keys"]
    assert records()[tag]["quoted"] == []


def test_records_yaml_lists_the_built_binaries() -> None:
    spec = records()["NPB_RESULT"]
    assert spec["binaries"] == BINARIES
    assert spec["program"] == list(KERNELS)


@pytest.mark.parametrize("kernel", KERNELS)
def test_kernel_prints_the_honest_banner_the_records_and_the_result_block(kernel: str) -> None:
    text = source(kernel)
    for call in ("npb_print_rank(", "npb_banner(", "npb_perturbed(", "npb_print_results("):
        assert call in text, f"{kernel}.c never calls {call})"
    assert f'npb_banner("{kernel.upper()}"' in text
    # The perturbation changes the seed the kernel actually uses.
    assert re.search(r"const uint64_t seed = SEED \+ \(perturb \? 2 : 0\);", text)


def test_result_block_is_npbs_standard_block() -> None:
    header = (SRC / "npb.h").read_text()
    assert '" NAS Parallel Benchmarks (NPB-spec kernel, recapp implementation) - "' in header, (
        "the banner must say this is recapp's implementation"
    )
    labels = re.findall(r'printf\(" ([A-Za-z/ ]+?)\s*= %24', header)
    assert labels == [
        "Class",
        "Size",
        "Iterations",
        "Time in seconds",
        "Total processes",
        "Mop/s total",
        "Mop/s/process",
        "Operation type",
        "Verification",
        "Implementation",
    ]
    assert 'printf("\\n\\n %s Benchmark Completed.\\n", r->kernel);' in header
    assert 'getenv("RECAPP_NPB_PERTURB")' in header


# ---- the APP recipe ---------------------------------------------------------------------------------


def test_app_nas_recipe_builds_the_kernels_next_to_the_mpi_examples() -> None:
    nas = recipes.load("app-nas")
    mpi = recipes.load("app-mpi")
    assert (nas.kind, nas.workload, nas.template) == ("app", "nas", mpi.template)
    assert nas.sources == [*mpi.sources, "nas"]
    assert set(nas.expect.executables) == {*mpi.expect.executables, *BINARIES}
    assert nas.expect.absent == mpi.expect.absent
    assert nas.build_packages == mpi.build_packages
    for suite in mpi.suites:
        assert nas.packages_for(suite) == mpi.packages_for(suite)
        assert nas.build_packages_for(suite) == mpi.build_packages_for(suite)
    assert nas.versions == mpi.versions
    assert recipes.recipe_name("app", "nas") == "app-nas"
