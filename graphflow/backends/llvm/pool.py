"""The native thread pool parallel kernels run on: `gf_parallel(task, data, n, grain)` runs
`task(lo, hi, data)` over [0, n) in chunks of `grain`, on the calling thread and the pool's
workers (one fewer than the cores this process may use; `GRAPHFLOW_NUM_THREADS` overrides).

Why not OpenMP: the cores are shared with other processes. A fork-join runtime waits at its
barrier for every worker to have run, so a worker that has not got a core yet stalls the whole
kernel for a scheduler time slice (two threads measured slower than one under load). Here the
threads claim chunks from one atomic counter, and the caller waits only for chunks a worker has
actually claimed: a worker that wakes late finds nothing left and goes back to sleep.

The job word `next` holds (generation << 32 | next chunk), so a late worker can never claim a
chunk of a newer job with an older job's task. Workers sleep on a futex; the pool lives in its
own compiled module (cached like every other) and `gf_parallel` is registered as a process symbol
that generated code links against."""

from __future__ import annotations

import ctypes
import os
import threading

import llvmlite.binding as llvm
import llvmlite.ir as ir

from graphflow.backends.llvm.emit import I32, I64, PTR, const

VOID = ir.VoidType()
SYMBOL = "gf_parallel"
TASK = ir.FunctionType(VOID, [I64, I64, PTR])
_SYS_FUTEX, _WAIT, _WAKE = 202, 128, 129  # x86-64 futex, FUTEX_*_PRIVATE
ENTER, LEAVE = "gf_pool_enter", "gf_pool_leave"
_EXPORTED = frozenset({"gf_pool_workers", "gf_pool_hot", "gf_pool_linger", "gf_pool_spin"})  # globals Python reads (start-up, tests)
LINGER_CYCLES = 1 << 18  # ~0.1 ms: a training loop's next step finds the workers watching
# a watching worker sleeps after this long without a job (~0.1 ms): a worker that spins much longer
# spends its scheduler share, and when another process holds a core it is then preempted in the
# middle of a tile the caller waits for (measured with a busy process beside the MLP step: the
# slowest quarter of steps took 4.9 ms with 16M cycles, 1.6 ms with 256K, 1.2 ms without watching)
SPIN_CYCLES = 1 << 18
_lock = threading.RLock()
_state: dict = {}


def _global(mod: ir.Module, name: str, t: ir.Type) -> ir.GlobalVariable:
    g = ir.GlobalVariable(mod, t, name)
    g.initializer = ir.Constant(t, None)
    g.linkage = "" if name in _EXPORTED else "internal"
    g.align = 64
    return g


def build_ir() -> str:
    mod = ir.Module(name="graphflow_pool")
    from graphflow.backends.llvm import jit

    mod.triple = jit.triple()
    gen = _global(mod, "gf_pool_gen", I32)
    nxt = _global(mod, "gf_pool_next", I64)
    pending = _global(mod, "gf_pool_pending", I64)
    busy = _global(mod, "gf_pool_busy", I32)
    workers = _global(mod, "gf_pool_workers", I32)
    f_task = _global(mod, "gf_pool_task", PTR)
    f_data = _global(mod, "gf_pool_data", PTR)
    f_n = _global(mod, "gf_pool_n", I64)
    f_grain = _global(mod, "gf_pool_grain", I64)
    f_chunks = _global(mod, "gf_pool_chunks", I64)
    hot = _global(mod, "gf_pool_hot", I32)
    left = _global(mod, "gf_pool_left", I64)  # cycle count when the last such graph ended
    linger = _global(mod, "gf_pool_linger", I64)  # cycles the workers keep watching after it
    linger.initializer = ir.Constant(I64, LINGER_CYCLES)
    spin_max = _global(mod, "gf_pool_spin", I64)  # cycles a worker watches without a job
    spin_max.initializer = ir.Constant(I64, SPIN_CYCLES)
    syscall = ir.Function(mod, ir.FunctionType(I64, [I64], var_arg=True), "syscall")
    yield_ = ir.Function(mod, ir.FunctionType(I32, []), "sched_yield")

    # work(g): claim and run chunks of job g until none are left
    work = ir.Function(mod, ir.FunctionType(VOID, [I32]), "gf_pool_work")
    work.linkage = "internal"
    b = ir.IRBuilder(work.append_basic_block("entry"))
    g64 = b.zext(work.args[0], I64)
    claim, run, done = (work.append_basic_block(n) for n in ("claim", "run", "done"))
    b.branch(claim)
    b.position_at_end(claim)
    v = b.load_atomic(nxt, "acquire", 8, typ=I64)
    c = b.and_(v, const(I64, 0xFFFFFFFF))
    live = b.and_(b.icmp_unsigned("==", b.lshr(v, const(I64, 32)), g64),
                  b.icmp_unsigned("<", c, b.load(f_chunks, typ=I64)))
    try_bb = work.append_basic_block("try")
    b.cbranch(live, try_bb, done)
    b.position_at_end(try_bb)
    res = b.cmpxchg(nxt, v, b.add(v, const(I64, 1)), "acq_rel", "acquire")
    b.cbranch(b.extract_value(res, 1), run, claim)
    b.position_at_end(run)
    # the claimed chunk keeps job g alive (pending > 0): its fields cannot change under us
    grain = b.load(f_grain, typ=I64)
    n = b.load(f_n, typ=I64)
    lo = b.mul(c, grain)
    hi = b.add(lo, grain)
    hi = b.select(b.icmp_signed("<", hi, n), hi, n)
    _call_ptr(b, b.load(f_task, typ=PTR), [lo, hi, b.load(f_data, typ=PTR)])
    b.atomic_rmw("sub", pending, b.sub(hi, lo), "release")
    b.branch(claim)
    b.position_at_end(done)
    b.ret_void()

    # worker(arg): sleep on the generation word, work on each new job. While a graph with several
    # parallel kernels runs (`hot` > 0, see gf_pool_enter) the worker watches the word instead of
    # sleeping (for at most SPIN_CYCLES since its last job or wake-up): a futex wake-up costs
    # tens of microseconds on a virtual machine, more than a tile of a small product. Between
    # graphs it sleeps at once, leaving the core to other threads (NumPy's OpenBLAS, Python).
    worker = ir.Function(mod, ir.FunctionType(PTR, [PTR]), "gf_pool_worker")
    b = ir.IRBuilder(worker.append_basic_block("entry"))
    seen0 = b.load_atomic(gen, "acquire", 4, typ=I32)
    loop, idle, spin, sleep, act = (worker.append_basic_block(n) for n in ("loop", "idle", "spin", "sleep", "act"))
    clock = ir.Function(mod, ir.FunctionType(I64, []), "llvm.readcyclecounter")
    pause = ir.Function(mod, ir.FunctionType(VOID, []), "llvm.x86.sse2.pause")
    start = b.call(clock, [])
    entry = b.block
    b.branch(loop)
    b.position_at_end(loop)
    seen = b.phi(I32)
    seen.add_incoming(seen0, entry)
    since = b.phi(I64)  # cycle count at the last job or wake-up
    since.add_incoming(start, entry)
    cur = b.load_atomic(gen, "acquire", 4, typ=I32)
    b.cbranch(b.icmp_unsigned("==", cur, seen), idle, act)
    b.position_at_end(idle)
    now = b.call(clock, [])
    running = b.or_(b.icmp_signed(">", b.load_atomic(hot, "monotonic", 4, typ=I32), const(I32, 0)),
                    b.icmp_unsigned("<", b.sub(now, b.load_atomic(left, "monotonic", 8, typ=I64)),
                                    b.load_atomic(linger, "monotonic", 8, typ=I64)))
    watch = b.and_(running, b.icmp_unsigned("<", b.sub(now, since), b.load_atomic(spin_max, "monotonic", 8, typ=I64)))
    b.cbranch(watch, spin, sleep)
    b.position_at_end(spin)
    b.call(pause, [])
    seen.add_incoming(seen, spin)
    since.add_incoming(since, spin)
    b.branch(loop)
    b.position_at_end(sleep)
    b.call(syscall, [const(I64, _SYS_FUTEX), gen, const(I32, _WAIT), seen, ir.Constant(PTR, None)])
    seen.add_incoming(seen, sleep)
    since.add_incoming(b.call(clock, []), sleep)
    b.branch(loop)
    b.position_at_end(act)
    b.call(work, [cur])
    seen.add_incoming(cur, act)
    since.add_incoming(b.call(clock, []), act)
    b.branch(loop)

    # gf_pool_enter() / gf_pool_leave(): around a graph with several parallel kernels; entering
    # wakes the workers so they are watching by the time the first parallel kernel starts
    enter = ir.Function(mod, ir.FunctionType(VOID, []), ENTER)
    b = ir.IRBuilder(enter.append_basic_block("entry"))
    b.atomic_rmw("add", hot, const(I32, 1), "acq_rel")
    b.call(syscall, [const(I64, _SYS_FUTEX), gen, const(I32, _WAKE), const(I32, 0x7FFFFFFF)])
    b.ret_void()
    leave = ir.Function(mod, ir.FunctionType(VOID, []), LEAVE)
    b = ir.IRBuilder(leave.append_basic_block("entry"))
    b.store_atomic(b.call(clock, []), left, "monotonic", 8)
    b.atomic_rmw("sub", hot, const(I32, 1), "acq_rel")
    b.ret_void()

    # gf_parallel(task, data, n, grain)
    par = ir.Function(mod, ir.FunctionType(VOID, [PTR, PTR, I64, I64]), SYMBOL)
    task, data, n, grain = par.args
    b = ir.IRBuilder(par.append_basic_block("entry"))
    serial, pooled, wait, finish = (par.append_basic_block(x) for x in ("serial", "pooled", "wait", "finish"))
    have = b.icmp_signed(">", b.load_atomic(workers, "monotonic", 4, typ=I32), const(I32, 0))
    nchunks = b.sdiv(b.add(n, b.sub(grain, const(I64, 1))), grain)
    several = b.icmp_signed(">", nchunks, const(I64, 1))
    acquired = b.extract_value(b.cmpxchg(busy, const(I32, 0), const(I32, 1), "acquire", "monotonic"), 1)
    # another thread is running a parallel kernel: this one runs on its own thread
    b.cbranch(b.and_(b.and_(have, several), acquired), pooled, serial)
    b.position_at_end(serial)
    with b.if_then(acquired):
        b.store_atomic(const(I32, 0), busy, "release", 4)
    _call_ptr(b, task, [const(I64, 0), n, data])
    b.ret_void()
    b.position_at_end(pooled)
    b.store(task, f_task)
    b.store(data, f_data)
    b.store(n, f_n)
    b.store(grain, f_grain)
    b.store(nchunks, f_chunks)
    b.store_atomic(n, pending, "release", 8)
    g = b.add(b.load(gen, typ=I32), const(I32, 1))
    b.store_atomic(b.shl(b.zext(g, I64), const(I64, 32)), nxt, "release", 8)
    b.store_atomic(g, gen, "release", 4)
    b.call(syscall, [const(I64, _SYS_FUTEX), gen, const(I32, _WAKE), const(I32, 0x7FFFFFFF)])
    b.call(work, [g])
    b.branch(wait)
    b.position_at_end(wait)
    left = b.load_atomic(pending, "acquire", 8, typ=I64)
    spin = par.append_basic_block("spin")
    b.cbranch(b.icmp_signed(">", left, const(I64, 0)), spin, finish)
    b.position_at_end(spin)
    b.call(yield_, [])  # a chunk is still running on a worker: give its thread the core if it needs it
    b.branch(wait)
    b.position_at_end(finish)
    b.store_atomic(const(I32, 0), busy, "release", 4)
    b.ret_void()
    return str(mod)


def _call_ptr(b: ir.IRBuilder, fnptr: ir.Value, args: list) -> None:
    from graphflow.backends.llvm.codegen import _FnPtr

    b.call(_FnPtr(fnptr, TASK), args)


def threads() -> int:
    env = os.environ.get("GRAPHFLOW_NUM_THREADS")
    if env:
        return max(1, int(env))
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def ensure() -> None:
    """Compile (or load from the cache) the pool, register `gf_parallel`, start the workers."""
    with _lock:
        if _state:  # ready, or being built by this thread (loading its own object)
            return
        _state["starting"] = True
        _start()


def _start() -> None:
    import hashlib

    from graphflow.backends.llvm import cache, jit

    text = build_ir()

    key = "pool-" + hashlib.sha256((text + jit.fingerprint()).encode()).hexdigest()
    obj = cache.get(key)
    if obj is None:
        obj = jit.compile_ir(text, optimise=False)
        cache.put(key, obj)
    loaded = jit.LoadedObject(obj)
    for name in (SYMBOL, ENTER, LEAVE):
        llvm.add_symbol(name, loaded.address(name))
    worker = loaded.address("gf_pool_worker")
    count_addr = loaded._engine.get_global_value_address("gf_pool_workers")
    libc = ctypes.CDLL(None)
    started = 0
    for _ in range(threads() - 1):
        tid = ctypes.c_ulong()
        if libc.pthread_create(ctypes.byref(tid), None, ctypes.c_void_p(worker), None) != 0:
            break
        libc.pthread_detach(tid)
        started += 1
    ctypes.c_int32.from_address(count_addr).value = started
    _state["loaded"] = loaded
    _state["workers"] = started


def set_linger(cycles: int) -> None:
    """How long (CPU cycles) workers keep watching after a graph that kept them so has ended."""
    _set_global("gf_pool_linger", cycles)


def set_spin(cycles: int) -> None:
    """How long (CPU cycles) a watching worker waits for a job before it sleeps."""
    _set_global("gf_pool_spin", cycles)


def _set_global(name: str, value: int) -> None:
    ensure()
    ctypes.c_int64.from_address(_state["loaded"]._engine.get_global_value_address(name)).value = value


def running_graphs() -> int:
    """How many graphs that keep the workers watching are running now (0 when idle)."""
    ensure()
    return ctypes.c_int32.from_address(_state["loaded"]._engine.get_global_value_address("gf_pool_hot")).value


def workers() -> int:
    ensure()
    return _state.get("workers", 0)
