"""The app shell, the top floor: the one sidebar (:mod:`.sidebar`), the cached computations (:mod:`.cache`), the
pool of worker processes that computes them (:mod:`.pool`, :mod:`.worker`, and :mod:`.remote`, what a worker
runs), script runs taking turns (:mod:`.gate`), their timing (:mod:`.timing`) and the layout helpers pages
draw with (:mod:`.ui`). Only this room and the pages use Streamlit's widgets."""
