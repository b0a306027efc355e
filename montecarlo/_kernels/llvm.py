"""LLVM IR compiled by llvmlite: the switch, the compiler, a module compiled once per process.

Two hot loops run as hand-written LLVM IR, compiled here at first use in
each process (numba itself is never imported): the π model's hit counter
(`montecarlo._kernels.pi`) and a batch's statistics in the engine's order
(`montecarlo._kernels.stats`). Each gives the numpy code's numbers bit for
bit. The environment variable ``MONTECARLO_JIT=0`` keeps the numpy code.

The IR is optimised by LLVM's -O3 pipeline for this machine's processor
(its vector width: AVX2 where there is AVX2). Without
fast-math flags LLVM neither reorders nor fuses floating-point operations:
it may unroll loops and interleave independent chains of additions, never
change what any one addition adds. llvmlite is imported only here, inside
the functions, so that importing the package never loads it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Mapping
from typing import Any

#: Set to ``0`` to run the numpy code even where the jit extra is installed.
JIT_VARIABLE = "MONTECARLO_JIT"


def switched_on() -> bool:
    """Whether ``MONTECARLO_JIT`` lets compiled kernels run (anything but ``0``; unset counts as on)."""
    return os.environ.get(JIT_VARIABLE, "1") != "0"


def optimised(ir: str, cpu: str | None = None, features: str | None = None) -> tuple[Any, Any]:
    """The IR parsed and optimised, with the target machine it is optimised for.

    ``cpu`` and ``features`` name the processor to compile for (default:
    this machine's; ``""`` and ``""``: the architecture's baseline).
    """
    import llvmlite.binding as llvm  # only where a kernel is compiled: `mc --help` never loads it

    llvm.initialize_native_target()
    llvm.initialize_native_asmprinter()
    module = llvm.parse_assembly(ir)
    module.triple = llvm.get_process_triple()
    module.verify()
    if cpu is None or features is None:
        try:  # this machine's processor: its vector width and instructions
            cpu, features = llvm.get_host_cpu_name(), llvm.get_host_cpu_features().flatten()
        except RuntimeError:  # features not detected here: the architecture's baseline
            cpu, features = "", ""
    machine = llvm.Target.from_triple(module.triple).create_target_machine(cpu=cpu, features=features, opt=3)
    # LLVM's -O3 pipeline (it unrolls the loops); without fast-math flags it
    # neither reorders nor fuses floating-point operations, whatever the processor.
    builder = llvm.create_pass_builder(machine, llvm.create_pipeline_tuning_options(speed_level=3))
    builder.getModulePassManager().run(module, builder)
    return module, machine


def compile_functions(
    ir: str, prototypes: Mapping[str, Any], cpu: str | None = None, features: str | None = None
) -> dict[str, Any]:
    """The IR's functions named in ``prototypes``, as ctypes functions of those prototypes.

    The result also holds, under ``"engine"``, the execution engine that owns
    the machine code: keep the dict alive as long as the functions are called.
    ctypes releases the GIL during each call, so threads run kernels side by side.
    """
    import llvmlite.binding as llvm

    module, machine = optimised(ir, cpu, features)
    engine = llvm.create_mcjit_compiler(module, machine)
    engine.finalize_object()
    functions: dict[str, Any] = {"engine": engine}
    for name, prototype in prototypes.items():
        functions[name] = prototype(engine.get_function_address(name))
    return functions


def assembly_of(ir: str, cpu: str | None = None, features: str | None = None) -> str:
    """The machine code the IR compiles to (on this machine by default), as assembly text."""
    module, machine = optimised(ir, cpu, features)
    return str(machine.emit_assembly(module))


class Scratch:
    """Each thread's buffers for a kernel to write, one per dtype, with their addresses.

    A kernel's buffers are read before the thread's next call, so one set
    per thread serves every call; they grow to the largest ``n`` asked for
    (at least ``least`` values). numpy takes microseconds to tell an array's
    address, so the addresses are kept beside the arrays.
    """

    def __init__(self, *dtypes: Any, least: int) -> None:
        self._dtypes = dtypes
        self._least = least
        self._local = threading.local()

    def get(self, n: int) -> tuple[tuple[Any, ...], tuple[int, ...]]:
        """The calling thread's arrays of at least ``n`` values, and their addresses."""
        held = getattr(self._local, "held", None)
        if held is None or held[0][0].size < n:
            import numpy as np

            arrays = tuple(np.empty(max(n, self._least), dtype=dtype) for dtype in self._dtypes)
            held = self._local.held = (arrays, tuple(a.ctypes.data for a in arrays))
        return held


class Compiled:
    """The functions of one IR module, compiled at first use in a process, once.

    ``prototypes`` gives, when the module compiles, the ctypes prototype of
    each function to take from it (`compile_functions`). Threads of a process
    share the code: the first to ask compiles it, under a lock.
    """

    def __init__(self, ir: str | Callable[[], str], prototypes: Callable[[], Mapping[str, Any]]) -> None:
        self._ir = ir
        self._prototypes = prototypes
        self._lock = threading.Lock()
        self._functions: dict[str, Any] = {}
        self._compiles: bool | None = None
        #: Values numpy processed in this process before the module was compiled (`ready`).
        self.numpy_values = 0

    @property
    def ir(self) -> str:
        """The module's IR (read at first use when it is given as a function)."""
        return self._ir if isinstance(self._ir, str) else self._ir()

    @property
    def compiled(self) -> bool:
        """Whether this process has compiled the module."""
        return bool(self._functions)

    def functions(self) -> dict[str, Any]:
        """The functions by name, compiling them if this process has not (milliseconds)."""
        if not self._functions:
            with self._lock:
                if not self._functions:
                    self._functions = compile_functions(self.ir, self._prototypes())
        return self._functions

    def compiles(self) -> bool:
        """Whether llvmlite is installed and compiles the module for this machine (compiling it; tried once)."""
        if self._compiles is None:
            try:
                self.functions()
            except Exception:  # no llvmlite, or no code for this machine: the caller's numpy code runs
                self._compiles = False
            else:
                self._compiles = True
        return self._compiles

    def ready(self, values: int, after: int) -> bool:
        """Whether the kernel may run on the next ``values`` values.

        Yes where ``MONTECARLO_JIT`` allows it, the module compiles here, and
        numpy has processed more than ``after`` values in this process first
        (those ``values`` counted, until it is compiled): compiling costs a
        process 0.1-0.2 s of CPU, which a short run never pays. The kernels
        give numpy's bits, so when they start changes no number.
        """
        if not switched_on():
            return False
        if not self.compiled:
            self.numpy_values += values
            if self.numpy_values <= after or not self.compiles():
                return False
        return True

    def assembly(self) -> str:
        """The machine code the module compiles to on this machine, as assembly text."""
        return assembly_of(self.ir)
