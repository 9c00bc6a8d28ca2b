"""Smart supervision (issue 6): scores over the warehouse, 402-form alerts routed to supervising departments, the watch list and the monthly report."""
