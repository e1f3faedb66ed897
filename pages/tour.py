"""Start here: a guided tour of BPTT in scenes, each with one figure, what to notice, and a prediction."""

from dataclasses import fields

import streamlit as st

from dashboard.config import RunConfig
from dashboard.learning import tour
from dashboard.shell import cache, ui
from dashboard.shell.sidebar import current_config, use_preset

SCENE, ANSWERS = "tour_scene", "tour_answers"


def settings_of(i: int) -> dict:
    """Every sidebar setting of scene i (those it does not name at their defaults)."""
    return {f.name: getattr(tour.SCENES[i].config(), f.name) for f in fields(RunConfig) if f.name != "weights"}


def open_scene(i: int) -> None:
    """Go to scene i (a button's callback): the sidebar takes its settings, the address names it."""
    use_preset(**settings_of(i))
    st.session_state[SCENE] = i
    st.query_params["scene"] = str(i + 1)


def try_change(i: int) -> None:
    """Record the prediction, then make the scene's change in the sidebar."""
    scene = tour.SCENES[i]
    st.session_state.setdefault(ANSWERS, {})[scene.key] = st.session_state[f"predict_{scene.key}"]
    use_preset(**{k: getattr(scene.changed(), k) for k in scene.change})


config = current_config()
if SCENE not in st.session_state:  # a link to a scene (its settings are in the link), or the first one
    st.session_state[SCENE] = tour.index_of(st.query_params.get("scene"))
i = st.session_state[SCENE]
scene = tour.SCENES[i]
st.query_params["scene"] = str(i + 1)
lecture = st.toggle(
    "Lecture mode", value=st.query_params.get("lecture") == "1", key="tour_lecture", help="slides for a projector"
)
if lecture:
    ui.lecture_style()

st.progress((i + 1) / len(tour.SCENES), text=f"Scene {i + 1} of {len(tour.SCENES)}")
st.title(scene.title)
shown = config if tour.matches(scene, config) else scene.config()  # the scene's own view until the sidebar is set
if shown != config and not lecture:
    st.info(f"This scene shows its own settings; the sidebar's differ ({tour.differences(shown, config)}).")
    st.button("Set the sidebar to this scene", on_click=open_scene, args=(i,), type="primary", key="tour_settings")
panel = cache.panel(scene.page, scene.panel, shown)
ui.show(ui.for_projector(panel) if lecture else panel, shown, key="tour", downloads=not lecture)
st.markdown(scene.notice(shown))

answers = st.session_state.setdefault(ANSWERS, {})
st.markdown(f"**Predict, then see.** {scene.question}")
if not lecture:
    done = scene.key in answers
    st.radio("Your prediction", scene.options, index=None, key=f"predict_{scene.key}", disabled=done, horizontal=True)
    st.button(
        "Show me",
        on_click=try_change,
        args=(i,),
        disabled=done or st.session_state.get(f"predict_{scene.key}") is None,
        type="primary",
    )
    if done:
        right, before, after = tour.outcome(scene)
        verdict = "Right" if answers[scene.key] == scene.options[right] else "Not this time"
        text = (
            f"{verdict}: the dashboard computed **{scene.options[right]}** ({scene.shown(before)} before, "
            f"{scene.shown(after)} after the change). The figure above now shows the changed settings."
        )
        (st.success if verdict == "Right" else st.warning)(text)
    score = sum(a == s.options[tour.outcome(s)[0]] for s in tour.SCENES if (a := answers.get(s.key)) is not None)
    st.caption(f"Predictions right so far: {score} of {len(answers)}.")

previous, following, handout = st.columns([1, 1, 2])
previous.button(
    "← Previous", on_click=open_scene, args=(max(i - 1, 0),), disabled=i == 0, shortcut="ArrowLeft", width="stretch"
)
following.button(
    "Next →",
    on_click=open_scene,
    args=(min(i + 1, len(tour.SCENES) - 1),),
    disabled=i == len(tour.SCENES) - 1,
    shortcut="ArrowRight",
    type="primary",
    width="stretch",
)
handout.download_button(
    "Tour handout (HTML, offline)",
    data=tour.handout,
    file_name="bptt-tour.html",
    mime="text/html",
    on_click="ignore",
    icon=":material/description:",
)
if i == len(tour.SCENES) - 1:
    st.page_link("pages/quiz.py", label="Check yourself: the study card's questions", icon=":material/quiz:")
