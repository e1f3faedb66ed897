"""Check yourself: the study card's questions, graded at once and explained by the engine's numbers."""

import streamlit as st

from dashboard.learning import quiz
from dashboard.shell.sidebar import current_config

current_config()  # the shared sidebar stays in place
VARIANTS, RESULTS = "quiz_variants", "quiz_results"
variants = st.session_state.setdefault(VARIANTS, {})
results = st.session_state.setdefault(RESULTS, {})


def check(key: str) -> None:
    """Grade the response to question ``key`` (kept for this session only)."""
    q = quiz.question(key, variants.get(key, 0))
    results[key] = (st.session_state.get(f"quiz_{key}_{variants.get(key, 0)}"), q)


def renew(key: str) -> None:
    """The same question with fresh numbers."""
    variants[key] = variants.get(key, 0) + 1
    results.pop(key, None)


st.title("Check yourself")
right = sum(quiz.grade(q, response) for response, q in results.values())
st.markdown(
    "One question per learning goal of the study card. Each is graded at once and explained with this "
    "dashboard's own computation; **New numbers** asks it again with other values. The questions run their own "
    "small networks, each named in its explanation, not the sidebar's. Nothing is stored beyond this browser "
    "session."
)
st.progress(
    right / len(quiz.BUILDERS), text=f"Score: {right} right of {len(results)} answered ({len(quiz.BUILDERS)} questions)"
)

for n, key in enumerate(quiz.BUILDERS, start=1):
    variant = variants.get(key, 0)
    q = quiz.question(key, variant)
    with st.container(border=True, key=f"question-{key}"):
        st.markdown(f"**{n}. {q.goal.capitalize()}.** {q.prompt}")
        field = f"quiz_{key}_{variant}"
        if q.options is None:
            st.number_input("Your answer", value=None, key=field, format="%.6g", placeholder="a number")
        else:
            st.radio("Your answer", q.options, index=None, key=field)
        buttons = st.container(horizontal=True)
        buttons.button("Check", key=f"check-{key}", on_click=check, args=(key,), type="primary")
        buttons.button("New numbers", key=f"renew-{key}", on_click=renew, args=(key,))
        if key in results:
            response, graded = results[key]
            if response is None:
                st.warning("Answer first, then press Check.")
            elif quiz.grade(graded, response):
                st.success(f"Right. {graded.explanation}")
            else:
                answer = graded.answer if graded.options else f"{graded.answer:.6g}"
                st.warning(f"Not quite: the answer is {answer}. {graded.explanation}")
