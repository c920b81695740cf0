"""The course author's tools: the mutation harness and its catalogs (mutants/), regenerating the
release, a simulated class and the demo that grades it. The top job: may import every package
but `hub`; nothing else imports it."""
