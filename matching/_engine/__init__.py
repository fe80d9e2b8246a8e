"""The matching engine (internal): problem arrays, candidate arcs, the pricing loop and
its proof, the flow, the auction and the grid scan."""
