"""gf.compile retraces when something a trace baked in changes between calls: a parameter
replaced, its shape or dtype changed, a module's train/eval flag, the grad mode, an optimizer's
hyper-parameter; and replays without tracing while nothing changed."""

import numpy as np

import graphflow as gf
import graphflow.nn as nn


def _model():
    gf.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Dropout(0.5), nn.Linear(4, 2))


def _x():
    return gf.tensor(np.arange(15, dtype=np.float32).reshape(5, 3) / 10)


def _eager(model, x):
    with gf.no_grad():
        return model(x).numpy().copy()


def test_replays_without_tracing_while_nothing_changes():
    model = _model().eval()
    f = gf.compile(lambda x: model(x))
    x = _x()
    for _ in range(3):
        np.testing.assert_allclose(f(x).numpy(), _eager(model, x), rtol=1e-5, atol=1e-6)
    assert f.traces == 1


def test_replaced_parameter_retraces_and_is_used():
    model = _model().eval()
    f = gf.compile(lambda x: model(x))
    x = _x()
    f(x)
    model[0].weight = nn.Parameter(gf.tensor(np.ones((4, 3), np.float32)))
    np.testing.assert_allclose(f(x).numpy(), _eager(model, x), rtol=1e-5, atol=1e-6)
    assert f.traces == 2


def test_replaced_submodule_retraces():
    model = _model().eval()
    f = gf.compile(lambda x: model(x))
    x = _x()
    f(x)
    model[1] = nn.Identity() if hasattr(nn, "Identity") else nn.ReLU()
    model[3] = nn.Linear(4, 3)
    out = f(x)
    assert tuple(out.shape) == (5, 3)
    np.testing.assert_allclose(out.numpy(), _eager(model, x), rtol=1e-5, atol=1e-6)


def test_parameter_of_new_dtype_retraces():
    lin = nn.Linear(3, 2)
    f = gf.compile(lambda x: lin(x))
    x = _x()
    f(x)
    lin.double()  # the same parameter objects, new storage of another dtype
    out = f(x.double())
    assert out.dtype is gf.float64
    np.testing.assert_allclose(out.numpy(), _eager(lin, x.double()), rtol=1e-12)
    assert f.traces == 2


def test_parameter_of_new_shape_retraces():
    w = gf.tensor(np.ones((3, 2), np.float32))
    f = gf.compile(lambda x: x @ w)
    x = _x()
    f(x)
    w.data = gf.tensor(np.full((3, 4), 2.0, np.float32))  # the same tensor, a value of another shape
    out = f(x)
    np.testing.assert_allclose(out.numpy(), x.numpy() @ np.full((3, 4), 2.0), rtol=1e-6)
    assert f.traces == 2


def test_train_eval_flag_of_a_closure_module_retraces():
    model = _model()
    f = gf.compile(lambda x: model(x))
    x = _x()
    model.eval()
    np.testing.assert_allclose(f(x).numpy(), _eager(model, x), rtol=1e-5, atol=1e-6)
    model.train()
    f(x)  # dropout on: a different graph
    assert f.traces == 2
    model.eval()
    np.testing.assert_allclose(f(x).numpy(), _eager(model, x), rtol=1e-5, atol=1e-6)
    assert f.traces == 2  # back to the first trace


def test_module_reached_through_an_object_attribute():
    class Trainer:
        def __init__(self):
            self.model = _model()

        def logits(self, x):
            return self.model(x)

    tr = Trainer()
    f = gf.compile(tr.logits)
    x = _x()
    tr.model.eval()
    f(x)
    tr.model.train()
    f(x)
    assert f.traces == 2
    tr.model = _model().eval()  # a new model object: traced again, its weights used
    np.testing.assert_allclose(f(x).numpy(), _eager(tr.model, x), rtol=1e-5, atol=1e-6)
    assert f.traces == 3


def test_grad_mode_retraces():
    lin = nn.Linear(3, 2)
    f = gf.compile(lambda x: lin(x))
    x = _x()
    f(x)
    with gf.no_grad():
        f(x)
    assert f.traces == 2


def test_learning_rate_change_retraces_and_takes_effect():
    lin = nn.Linear(3, 2, bias=False)
    with gf.no_grad():
        lin.weight.copy_(gf.zeros((2, 3)))
    opt = gf.optim.SGD(lin.parameters(), lr=0.1)
    x = gf.tensor(np.ones((2, 3), np.float32))  # d loss / d weight = 2 everywhere

    def step(x):
        opt.zero_grad()
        loss = lin(x).sum()
        loss.backward()
        opt.step()
        return loss

    f = gf.compile(step)
    f(x)
    f(x)  # .grad set before the call: a second trace
    np.testing.assert_allclose(lin.weight.detach().numpy(), np.full((2, 3), -0.4), rtol=1e-6)
    opt.param_groups[0]["lr"] = 1.0
    f(x)
    np.testing.assert_allclose(lin.weight.detach().numpy(), np.full((2, 3), -2.4), rtol=1e-6)
    assert f.traces == 3


def test_compiled_step_outputs_do_not_share_memory():
    w = gf.tensor(np.ones(3, np.float32), requires_grad=True)

    def f(x):
        y = (x * w).sum()
        y.backward()
        return y, y

    cf = gf.compile(f)
    a, b = cf(gf.tensor(np.ones(3, np.float32)))
    assert not np.shares_memory(a.numpy(), b.numpy())
    assert not np.shares_memory(w.grad.numpy(), w.detach().numpy())
