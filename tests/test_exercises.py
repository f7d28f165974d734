"""The exercise scaffold: stubs say "your turn", wrong answers are named, crashes are reported."""

from kdnb import exercises as ex


def _diagnose(x):
    if x == 3:
        return None
    return "too small" if x < 3 else "too big"


def test_ellipsis_is_your_turn(capsys):
    v = ex.check("Check yourself 1.1", ..., _diagnose, todo="set x")
    assert v.status == "todo" and not v
    assert "your turn" in capsys.readouterr().out


def test_right_and_wrong_answers(capsys):
    assert ex.check("C", 3, _diagnose, todo="", praise="well done")
    wrong = ex.check("C", 1, _diagnose, todo="")
    assert wrong.status == "wrong" and wrong.message == "too small"
    assert "not yet" in str(wrong) and "too small" in capsys.readouterr().out


def test_stub_raising_your_turn_and_crashing_code():
    def stub(_):
        ex.your_turn("write the loss")

    assert ex.check("C", 1, lambda a: stub(a), todo="fill it in", quiet=True).status == "todo"

    def crash(_):
        raise ZeroDivisionError("division by zero")

    v = ex.check("C", 1, crash, todo="", quiet=True)
    assert v.status == "wrong" and "ZeroDivisionError" in v.message


def test_close():
    assert ex.close(0.1 + 0.2, 0.3) and not ex.close(0.3, 0.31) and not ex.close("a", 1)


def test_a_printed_verdict_is_not_shown_twice(capsys):
    v = ex.check("C", 3, _diagnose, todo="")
    capsys.readouterr()
    v._ipython_display_()  # what IPython calls when a cell ends with the check
    assert capsys.readouterr().out == ""
    quiet = ex.check("C", 3, _diagnose, todo="", quiet=True)
    quiet._ipython_display_()
    assert "correct" in capsys.readouterr().out
