"""`gpudoctor onboard`: a pure step plan, its executor, and the summary's renderers."""
