"""Notebook 07, the interview drill: flashcards, computed quizzes, a mock interview, the trap gallery.

Everything here reads the question bank (:mod:`kdnb.bank`); nothing is typed twice. Widgets are thin
views: each has methods (``reveal``, ``mark``, ``answer``, ``rate``) that its buttons call and the
tests drive, and a static twin the notebook prints. Every widget speaks Chinese when only Chinese is
shown (``lang="中文"``), English otherwise.

``words.py`` holds the interface words of every widget in English and Chinese (``UI``), the
language choices, the small HTML pieces the widgets share (a section link, table cells), and
:class:`Shown`, the tables' class: English labels for code, shown through :func:`tr` in the reader's language.

``cards.py`` holds :func:`card_html` (one card: question, 30-second answer, trap, link) and
:class:`Flashcards`: cards filtered by topic and level, in English, Chinese or both; *review again*
brings a card back a few cards later and again after a longer gap until it is known (spaced
repetition within the session); progress saves to a JSON file and loads back, checked whole before
any of it is applied. :func:`review_walkthrough` drives a deck through that queue for the static twin.

``quiz.py`` holds the computed questions: :class:`QuizItem`, the ten generators (:data:`GENERATORS`)
whose answers come out of the workbook's functions (:func:`kdnb.temperature.soft_targets`,
:func:`kdnb.losses.soft_loss` with autograd, ``F.kl_div``, ``torch.nn.utils.prune`` …) from inputs drawn
at random, :func:`make_quiz`, the static twin :func:`quiz_table`, :func:`draw_each` and
:func:`distinct_answers` (no generator has a fixed answer), and the :class:`Quiz` widget.

``mock.py`` holds :class:`MockInterview`, a timed run of questions across topics that ends with the
weak topics and links to the sections that teach them, and :func:`replay_interview`, an interview
replayed with a stand-in clock.

``traps.py`` holds the bank at a glance: :func:`trap_table`, :func:`trap_gallery` and
:func:`trap_sources` (every trap, its verdict, the section that disproves it), :func:`bank_summary`,
:func:`formula_sheet`, :func:`most_asked` (the summary's 30-second answers) and :func:`references`.

``checks.py`` holds the checker of Check yourself 3.1 (:func:`check_entropy_at_T`) and the verdict
functions (``*_verdicts``) that compute the claims the prose makes about each widget and replay.
"""

from __future__ import annotations

from .cards import Flashcards, card_html, review_walkthrough
from .checks import (check_entropy_at_T, flashcards_verdicts, generator_verdicts, interview_verdicts, quiz_verdicts,
                     replay_verdicts, review_verdicts, trap_verdicts)
from .mock import MockInterview, replay_interview
from .quiz import Quiz, distinct_answers, draw_each, make_quiz, quiz_table
from .traps import (bank_counts, bank_summary, formula_sheet, most_asked, references, sheet_line, terms_table, trap_gallery,
                    trap_sources, variants_table)

__all__ = ["bank_counts", "terms_table", "variants_table", "sheet_line", "bank_summary", "Flashcards", "flashcards_verdicts", "card_html", "review_walkthrough", "review_verdicts",
           "Quiz", "quiz_verdicts", "make_quiz", "quiz_table", "draw_each", "distinct_answers",
           "generator_verdicts", "check_entropy_at_T", "MockInterview", "interview_verdicts", "replay_interview",
           "replay_verdicts", "trap_sources", "trap_verdicts", "trap_gallery", "formula_sheet", "most_asked",
           "references"]
