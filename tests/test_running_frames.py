"""SPEC §2.9: running frames finish in the code they started with."""

import asyncio
import threading


def test_suspended_generator_finishes_on_old_code(mods):
    m = mods.module("m", """
        def gen():
            total = 0
            for i in (1, 2, 3):
                total += i
                yield ("v1", i, total)
    """)
    g = m.gen()
    assert next(g) == ("v1", 1, 1)
    r = mods.update("m", """
        def gen():
            total = 0
            for i in (1, 2, 3):
                total += i * 100
                yield ("v2", i, total)
    """)
    assert list(g) == [("v1", 2, 3), ("v1", 3, 6)]
    assert list(m.gen())[0] == ("v2", 1, 100)
    # documented, not an error
    assert r.errors == () and r.restart_required == ()
    assert mods.n("m.gen") in r.updated


def test_suspended_generator_of_a_method(mods):
    m = mods.module("m", """
        class Feed:
            def items(self):
                yield "a1"
                yield "b1"
    """)
    feed = m.Feed()
    it = feed.items()
    assert next(it) == "a1"
    mods.update("m", """
        class Feed:
            def items(self):
                yield "a2"
                yield "b2"
    """)
    assert list(it) == ["b1"]
    assert list(feed.items()) == ["a2", "b2"]


COROUTINE_V1 = """
    import types

    @types.coroutine
    def pause():
        yield  # a bare yield: what asyncio accepts as "run me later"

    async def work():
        await pause()
        return "v1"
"""


def test_suspended_coroutine_finishes_on_old_code(mods):
    m = mods.module("m", COROUTINE_V1)
    coro = m.work()
    assert coro.send(None) is None  # suspended inside the old body
    mods.update("m", COROUTINE_V1.replace('"v1"', '"v2"'))
    try:
        coro.send(None)
    except StopIteration as stop:
        assert stop.value == "v1"
    else:
        raise AssertionError("the coroutine did not finish")
    assert asyncio.run(m.work()) == "v2"


def test_suspended_async_generator_finishes_on_old_code(mods):
    m = mods.module("m", """
        import types

        @types.coroutine
        def pause():
            yield  # a bare yield: what asyncio accepts as "run me later"

        async def ticks():
            yield "a1"
            await pause()
            yield "b1"
    """)
    agen = m.ticks()
    step = agen.__anext__()
    try:
        step.send(None)
    except StopIteration as stop:
        assert stop.value == "a1"
    step = agen.__anext__()
    assert step.send(None) is None  # suspended inside the old body
    mods.update("m", """
        import types

        @types.coroutine
        def pause():
            yield  # a bare yield: what asyncio accepts as "run me later"

        async def ticks():
            yield "a2"
            await pause()
            yield "b2"
    """)
    try:
        step.send(None)
    except StopIteration as stop:
        assert stop.value == "b1"
    else:
        raise AssertionError("the async generator did not yield")

    async def collect():
        return [x async for x in m.ticks()]

    async def finish():
        return [x async for x in agen]

    assert asyncio.run(finish()) == []
    assert asyncio.run(collect()) == ["a2", "b2"]


def test_function_on_the_stack_finishes_on_old_code(mods):
    m = mods.module("m", """
        def run(callback):
            first = "v1-start"
            callback()
            return (first, "v1-end", helper())

        def helper():
            return "helper-v1"
    """)
    new = """
        def run(callback):
            return ("v2",)

        def helper():
            return "helper-v2"
    """
    result = m.run(lambda: mods.update("m", new))
    # the frame finishes in its old code; the calls it makes run the new code
    assert result == ("v1-start", "v1-end", "helper-v2")
    assert m.run(lambda: None) == ("v2",)


def test_function_running_in_another_thread_finishes_on_old_code(mods):
    m = mods.module("m", """
        def work(entered, release):
            entered.set()
            release.wait(10)
            return "v1"
    """)
    entered, release = threading.Event(), threading.Event()
    out = []
    t = threading.Thread(target=lambda: out.append(m.work(entered, release)))
    t.start()
    assert entered.wait(10)
    r = mods.update("m", """
        def work(entered, release):
            return "v2"
    """)
    release.set()
    t.join(10)
    assert out == ["v1"]
    assert m.work(None, None) == "v2"
    assert r.errors == ()


def test_recursion_in_progress(mods):
    m = mods.module("m", """
        def down(n, at_bottom):
            if n == 0:
                at_bottom()
                return ["bottom-v1"]
            return down(n - 1, at_bottom) + ["v1"]
    """)
    result = m.down(2, lambda: mods.update("m", """
        def down(n, at_bottom):
            if n == 0:
                return ["bottom-v2"]
            return down(n - 1, at_bottom) + ["v2"]
    """))
    assert result == ["bottom-v1", "v1", "v1"]
    assert m.down(2, None) == ["bottom-v2", "v2", "v2"]
