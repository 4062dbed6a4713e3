"""The Ladle console: a web app over the stack (sign-in with the analyst accounts; the review
queue of enrichment.review; a playground through the gateway; evaluations and costs from the sink)."""
