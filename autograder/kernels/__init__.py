"""Starting and talking to Jupyter kernels: kernels started ahead of the submission that needs
them (`prestart`) and channels polled in slices so no reply is missed (`wakeful`).
Imports nothing of the course's own but the top-level helpers."""
