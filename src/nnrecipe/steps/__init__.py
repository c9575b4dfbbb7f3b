"""The recipe's steps, walked in order by `nnrecipe run`, each behind the gate of the one before."""
