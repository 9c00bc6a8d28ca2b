"""Delivery of penalty decisions to member units (抄送) and their acknowledgements (签收): see each module."""
