"""The GPU device code (`PyCudaDevice`) run end to end without a GPU: a checked stand-in for
`pycuda.driver` (tests/backends/fake_pycuda.py) runs the kernels through the cuda emulator and
refuses every call PyCUDA or the driver would refuse. Static graphs, `gf.compile` functions and
eager tensors on `cuda` go through it against the NumPy reference; the stand-in's own checks are
proven to fire; one test runs a real nvcc cubin through it where nvcc is installed."""

from __future__ import annotations

import shutil
import threading
import types

import numpy as np
import pytest

import graphflow as gf
import graphflow.backends.cuda.pycuda_device as pd
from graphflow.backends import get_backend
from graphflow.backends.cuda import CudaBackend, DeviceArray
from graphflow.backends.cuda.compiler import find_nvcc, nvcc_compile
from graphflow.backends.cuda.pycuda_device import PyCudaDevice
from graphflow.ir import Graph, bind
from graphflow.ir.dtypes import get_dtype
from tests.backends import fake_pycuda as fp

pytestmark = pytest.mark.skipif(shutil.which("g++") is None and shutil.which("c++") is None,
                                reason="the CUDA emulator needs a C++ compiler")


NVCC_FAST = ["-std=c++17", "-Xcicc", "-O0", "-Xptxas", "-O0"]  # as test_cuda_nvcc: same checks, faster


def _source_compile(source: str, arch: str, *args, **kwargs) -> bytes:
    """nvcc's stand-in: the fake driver loads the source text behind a marker."""
    assert arch == "sm_80"
    return fp.source_image(source)


@pytest.fixture(scope="module")
def drv() -> fp.FakeDriver:
    return fp.FakeDriver()


@pytest.fixture(scope="module")
def device(drv):
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pd, "nvcc_compile", _source_compile)
        dev = PyCudaDevice(driver=drv)
        yield dev
        dev._close()


@pytest.fixture(scope="module")
def backend(device):
    return CudaBackend(device=device)


def _inp(name: str, shape: tuple, dtype: str = "float32"):
    return bind("input", name=name, dtype=get_dtype(dtype), shape=shape)


def _reference(graph: Graph, arrays: list) -> list[np.ndarray]:
    return get_backend("numpy").compile(graph).run(arrays)


# ---- static graphs through the device ----------------------------------------------------------
@pytest.mark.parametrize("m,n", [(0, 5), (1, 1), (17, 33), (33, 17)])
def test_static_graph_matches_reference_on_odd_shapes(backend, drv, m, n):
    rng = np.random.default_rng(m * 100 + n)
    x = rng.standard_normal((n, m)).astype(np.float32).T  # non-contiguous (a transposed view)
    b = rng.standard_normal((n,)).astype(np.float32)  # broadcast over rows
    w = rng.standard_normal((n, 3)).astype(np.float32)
    X, B, W = _inp("x", (m, n)), _inp("b", (n,)), _inp("w", (n, 3))
    h = bind("tanh", bind("add", X, bind("broadcast_to", B, shape=(m, n))))
    rows = bind("reduce_sum", h, axes=(1,), keepdims=False)
    cols = bind("reduce_max", bind("exp", h), axes=(0,), keepdims=False) if m else bind("exp", B)
    graph = Graph([h, rows, cols, bind("matmul", h, W), bind("permute", h, perm=(1, 0))], [X, B, W])
    launches = drv.count_calls("launch")
    got = backend.compile(graph).run([x, b, w])
    assert drv.count_calls("launch") > launches
    for g, r in zip(got, _reference(graph, [x, b, w])):
        assert g.shape == r.shape and g.dtype == r.dtype
        np.testing.assert_allclose(g, r, rtol=2e-5, atol=2e-5)


def test_static_training_program_matches_the_cpu_backend(backend, drv):
    import graphflow.static as tf

    rng = np.random.default_rng(1)
    xs = rng.standard_normal((33, 5)).astype(np.float32)
    ys = rng.standard_normal((33, 1)).astype(np.float32)

    def losses(session_backend):
        with tf.Graph().as_default():
            x, y = tf.placeholder(tf.float32, [None, 5]), tf.placeholder(tf.float32, [None, 1])
            w1 = tf.Variable(rng.standard_normal((5, 7)).astype(np.float32) * 0.3)
            w2 = tf.Variable(np.full((7, 1), 0.1, np.float32))
            h = tf.nn.relu(x @ w1)
            loss = tf.reduce_mean(tf.square(h @ w2 - y))
            train = tf.train.MomentumOptimizer(0.05, 0.9).minimize(loss)
            with tf.Session(backend=session_backend) as sess:
                sess.run(tf.global_variables_initializer())
                out = [sess.run([loss, train], {x: xs[:n], y: ys[:n]})[0] for n in (33, 17, 1, 33)]
                return np.array(out), sess.run(w1)

    state = rng.bit_generator.state
    cpu_losses, cpu_w1 = losses(None)
    rng.bit_generator.state = state
    launches = drv.count_calls("launch")
    gpu_losses, gpu_w1 = losses(backend)
    assert drv.count_calls("launch") > launches
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(gpu_w1, cpu_w1, rtol=1e-5, atol=1e-6)


def test_device_arrays_run_op_and_the_error_flag(backend, device, drv):
    from graphflow.ir import get_op
    from graphflow.ir.graph import Attrs, TensorType

    x = np.linspace(-1, 1, 33, dtype=np.float32)
    X = _inp("x", (33,))
    exe = backend.compile(Graph([bind("exp", X), X], [X]))
    dx = DeviceArray.from_host(device, x)
    y, same = exe.run([dx], to_host=False)
    assert isinstance(y, DeviceArray) and same.handle is not dx.handle
    np.testing.assert_allclose(exe.run([y])[0], np.exp(np.exp(x)), rtol=1e-5)
    out = backend.run_op(get_op("reduce_sum"), [dx], Attrs({"axes": (0,), "keepdims": False}),
                         TensorType(get_dtype("float32"), ()))
    assert isinstance(out, DeviceArray) and out.shape == ()
    np.testing.assert_allclose(out.get(), x.sum(), rtol=1e-5, atol=1e-6)
    idx = _inp("i", (3,), "int64")
    gather = backend.compile(Graph([bind("gather", X, idx, axis=0)], [X, idx]))
    np.testing.assert_array_equal(gather.run([x, np.array([-1, 0, 32])])[0], x[[-1, 0, 32]])
    with pytest.raises(IndexError, match=r"gather: index out of bounds .*test_cuda_pycuda_path"):
        gather.run([x, np.array([0, 33, 1])])


def test_timing_with_events_on_the_device_stream(backend, device, drv):
    X = _inp("x", (1031,))
    exe = backend.compile(Graph([bind("tanh", X)], [X]))
    dx = DeviceArray.from_host(device, np.ones(1031, np.float32))
    start = len(drv.calls)
    ms = device.time_ms(lambda: exe.run([dx], to_host=False), repeat=3)
    assert ms > 0
    records = [d for n, d in drv.calls[start:] if n == "Event.record"]
    assert records == [device.stream, device.stream]
    assert all(d[-1] is device.stream for n, d in drv.calls[start:] if n == "launch")


# ---- eager tensors on the device ---------------------------------------------------------------
@pytest.fixture(scope="module")
def eager_cuda(backend):
    from graphflow.eager.devices import use_backend

    with use_backend("cuda", backend):
        yield backend


def test_eager_tensors_move_and_compute(eager_cuda):
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 17)).astype(np.float32)
    t = gf.from_numpy(a).T  # non-contiguous view
    d = t.cuda()
    assert d.device == "cuda:0" and isinstance(d._data, DeviceArray)
    row = gf.tensor(rng.standard_normal(5).astype(np.float32)).to("cuda")
    out = (d * row + 1.0).relu().sum(1)  # broadcast over rows, a composite, a reduction
    np.testing.assert_allclose(out.cpu().numpy(), np.maximum(a.T * row.cpu().numpy() + 1, 0).sum(1), rtol=1e-5)
    for shape in [(0, 3), (1,)]:
        z = gf.ones(*shape).cuda()
        assert (z * 2.0).cpu().numpy().tolist() == (np.ones(shape) * 2).tolist()
    assert d.cpu().numpy().tolist() == a.T.tolist() and d.to("cpu").device == "cpu"
    d64 = d.to("cuda", gf.float64)
    assert d64.dtype is gf.float64 and d64.cpu().numpy().tolist() == a.T.astype(np.float64).tolist()
    z = gf.zeros(3).cuda()
    z.fill_(2.5)
    z.add_(gf.ones(3).cuda())
    assert z.tolist() == [3.5, 3.5, 3.5] and z.device == "cuda:0"


def test_eager_training_step_on_device_matches_cpu(eager_cuda, drv):
    def run(dev: str) -> tuple[list[float], list[np.ndarray]]:
        gf.manual_seed(0)
        # one width throughout: ops of one shape share a compiled module (the emulator compiles slowly)
        model = gf.nn.Sequential(gf.nn.Linear(3, 3), gf.nn.ReLU(), gf.nn.Linear(3, 3))
        model.to(dev)
        opt = gf.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
        rng = np.random.default_rng(3)
        x = gf.tensor(rng.standard_normal((3, 3)).astype(np.float32)).to(dev)
        y = gf.tensor(rng.integers(0, 3, 3)).to(dev)
        losses = []
        for _ in range(3):
            opt.zero_grad()
            loss = gf.nn.functional.cross_entropy(model(x), y)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        assert all(p.device == dev or str(p.device).startswith(dev) for p in model.parameters())
        assert all(s.device == p.device for p in model.parameters() for s in opt.state[p].values())
        return losses, [p.detach().cpu().numpy() for p in model.parameters()]

    cpu_losses, cpu_params = run("cpu")
    launches = drv.count_calls("launch")
    gpu_losses, gpu_params = run("cuda")
    assert drv.count_calls("launch") > launches
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5)
    assert cpu_losses[-1] < cpu_losses[0]
    for g, c in zip(gpu_params, cpu_params):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)


def test_device_works_from_another_thread(backend, device):
    """CUDA contexts are current per thread: the device makes its context current where it is used."""
    X = _inp("x", (17,))
    exe = backend.compile(Graph([bind("neg", X)], [X]))
    out: list = []

    def work() -> None:
        try:
            out.append(exe.run([np.arange(17, dtype=np.float32)])[0])
        except Exception as exc:  # noqa: BLE001 - handed to the test's thread
            out.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    worker.join()
    if isinstance(out[0], Exception):
        raise out[0]
    np.testing.assert_array_equal(out[0], -np.arange(17, dtype=np.float32))


# ---- the stand-in refuses what PyCUDA and the driver refuse -------------------------------------
FILL = r"""
extern "C" __global__ void __launch_bounds__(256) fill(float* __restrict__ out, long long n, float v) {
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        out[i] = v;
}
"""


@pytest.fixture(scope="module")
def fill(device):
    module = device.load(types.SimpleNamespace(module_source=lambda: FILL))
    return module, module[0].get_function("fill")


def test_scalar_parameters_are_passed_as_their_c_type(device, fill):
    buf = device.alloc(400 * 4)
    device.launch(fill[0], "fill", (2, 1, 1), (128, 1, 1), [buf, 300, 1.5], ["float*", "long long", "float"])
    out = np.empty(400, np.float32)
    device.download(buf, out)
    np.testing.assert_array_equal(out[:300], 1.5)
    assert np.isnan(out[300:]).all()  # device memory is not zeroed: never-written floats read as NaN


def test_kernel_calls_are_checked_as_pycuda_checks_them(device, drv, fill):
    fn = fill[1]
    buf = drv.mem_alloc(64 * 4)
    ok = dict(grid=(1, 1), block=(64, 1, 1), stream=device.stream)
    fn(buf, np.int64(64), np.float32(2.0), **ok)
    with pytest.raises(TypeError, match=r"invalid type on parameter #1"):
        fn(buf, 64, np.float32(2.0), **ok)  # a Python int
    with pytest.raises(fp.LogicError, match=r"parameter #1 is 'long long'"):
        fn(buf, np.int32(64), np.float32(2.0), **ok)  # packed in 4 bytes
    with pytest.raises(fp.LogicError, match="takes 3"):
        fn(buf, np.int64(64), **ok)
    with pytest.raises(ValueError, match="must specify block size"):
        fn(buf, np.int64(64), np.float32(2.0), grid=(1, 1))
    with pytest.raises(ValueError, match="extra keyword arguments: threads"):
        fn(buf, np.int64(64), np.float32(2.0), threads=3, **ok)
    for grid, block, error in [((1, 1), (2048, 1, 1), fp.LogicError), ((1, 1), (512, 1, 1), fp.LaunchError),
                               ((0, 1), (64, 1, 1), fp.LogicError), ((1, 1), (0, 1, 1), fp.LogicError),
                               ((1, 70000), (64, 1, 1), fp.LogicError), ([1, 1], (64, 1, 1), TypeError),
                               ((np.int64(1), 1), (64, 1, 1), TypeError), ((1, 1), (1, 1, 1, 1), fp.LogicError)]:
        with pytest.raises(error):
            fn(buf, np.int64(64), np.float32(2.0), grid=grid, block=block)
    with pytest.raises(fp.LaunchError, match="misaligned"):
        fn(np.uintp(int(buf) + 2), np.int64(1), np.float32(2.0), **ok)
    with pytest.raises(fp.LogicError, match="named symbol not found"):
        fill[0][0].get_function("fil")


def test_memory_calls_are_checked(device, drv):
    buf = drv.mem_alloc(40)
    drv.memcpy_htod_async(buf, np.arange(10, dtype=np.float32), device.stream)
    with pytest.raises(fp.LogicError, match="44 bytes at offset 0 of a 40-byte allocation"):
        drv.memcpy_htod_async(buf, np.arange(11, dtype=np.float32), device.stream)
    with pytest.raises(fp.LogicError, match="40 bytes at offset 4"):
        drv.memcpy_dtoh_async(np.empty(10, np.float32), int(buf) + 4, device.stream)
    with pytest.raises(ValueError, match="contiguous"):
        drv.memcpy_htod_async(buf, np.zeros((4, 4), np.float32)[:, :2], device.stream)
    with pytest.raises((BufferError, TypeError)):
        drv.memcpy_dtoh_async(b"\0" * 40, buf, device.stream)  # a read-only destination
    with pytest.raises(TypeError, match="stream"):
        drv.memcpy_htod_async(buf, np.zeros(2, np.float32), "stream")
    with pytest.raises(TypeError):
        drv.mem_alloc(np.int64(8))
    with pytest.raises(fp.LogicError):
        drv.mem_alloc(0)
    with pytest.raises(fp.LogicError, match="at offset 0 of a 40"):
        drv.memset_d8_async(buf, 0, 41, device.stream)
    addr = int(buf)
    buf.free()
    with pytest.raises(fp.LogicError, match="freed"):
        drv.memcpy_htod_async(buf, np.zeros(2, np.float32), device.stream)
    with pytest.raises(fp.LogicError, match="not in a live allocation"):
        drv.memset_d8_async(addr, 0, 4, device.stream)
    start, end = drv.Event(), drv.Event()
    start.record(device.stream)
    with pytest.raises(fp.LogicError, match="not recorded"):
        start.time_till(end)


def test_calls_need_init_and_a_current_context():
    fresh = fp.FakeDriver()
    with pytest.raises(fp.LogicError, match="initialization"):
        fresh.Device(0)
    fresh.init()
    with pytest.raises(fp.LogicError, match="invalid device ordinal"):
        fresh.Device(1)
    with pytest.raises(fp.LogicError, match="invalid device context"):
        fresh.mem_alloc(16)
    ctx = fresh.Device(0).retain_primary_context()
    ctx.push()
    assert fresh.Context.get_current() is ctx and int(fresh.mem_alloc(16)) % fp.ALIGNMENT == 0
    fresh.Context.pop()
    with pytest.raises(fp.LogicError, match="invalid device context"):
        fresh.Context.pop()


# ---- one real cubin --------------------------------------------------------------------------
@pytest.mark.skipif(find_nvcc() is None, reason="nvcc is not installed")
def test_real_nvcc_cubin_loads_and_runs(tmp_path, monkeypatch):
    """nvcc compiles the module PyCudaDevice.load asks for; the cubin (an ELF naming every kernel)
    is what module_from_buffer receives, and its kernels run through the emulator."""
    fake = fp.FakeDriver()

    def real_compile(source: str, arch: str, *args, **kwargs) -> bytes:
        cubin = nvcc_compile(source, arch, "cubin", cache=tmp_path, flags=NVCC_FAST)
        fake.register_cubin(cubin, source)
        return cubin

    monkeypatch.setattr(pd, "nvcc_compile", real_compile)
    dev = PyCudaDevice(driver=fake)
    try:
        x = np.random.default_rng(4).standard_normal((3, 17)).astype(np.float32)
        X = _inp("x", (3, 17))
        graph = Graph([bind("reduce_sum", bind("exp", X), axes=(1,), keepdims=False)], [X])
        (got,) = CudaBackend(device=dev).compile(graph).run([x])
        np.testing.assert_allclose(got, np.exp(x).sum(1), rtol=1e-5)
        assert fake.count_calls("module_from_buffer") == 1 and len(list(tmp_path.iterdir())) == 1
    finally:
        dev._close()


def test_compiled_training_step_on_device_matches_cpu(eager_cuda, drv):
    def run(dev: str) -> tuple[list[float], list[np.ndarray], object]:
        gf.manual_seed(5)
        model = gf.nn.Sequential(gf.nn.Linear(5, 7), gf.nn.Tanh(), gf.nn.Linear(7, 1)).to(dev)
        opt = gf.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)

        @gf.compile
        def step(x, y):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
            return loss

        rng = np.random.default_rng(6)
        x = gf.tensor(rng.standard_normal((17, 5)).astype(np.float32)).to(dev)
        y = gf.tensor(rng.standard_normal((17, 1)).astype(np.float32)).to(dev)
        losses = [step(x, y) for _ in range(3)]
        assert all(loss.device == x.device for loss in losses)
        return [loss.item() for loss in losses], [p.detach().cpu().numpy() for p in model.parameters()], step.traces

    cpu_losses, cpu_params, cpu_traces = run("cpu")
    launches = drv.count_calls("launch")
    gpu_losses, gpu_params, gpu_traces = run("cuda")
    assert drv.count_calls("launch") > launches and gpu_traces == cpu_traces
    np.testing.assert_allclose(gpu_losses, cpu_losses, rtol=1e-5)
    assert cpu_losses[-1] < cpu_losses[0]
    for g, c in zip(gpu_params, cpu_params):
        np.testing.assert_allclose(g, c, rtol=1e-5, atol=1e-6)
