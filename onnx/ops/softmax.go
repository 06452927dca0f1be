package ops

// Softmax family and losses: Softmax, LogSoftmax, Hardmax,
// SoftmaxCrossEntropyLoss, NegativeLogLikelihoodLoss, and ORT's
// SoftmaxGrad(_13), LogSoftmaxGrad(_13), SoftmaxCrossEntropyLossGrad and the
// *Internal variants.

func init() {
	registerAs("", []string{"Softmax", "LogSoftmax"}, Rule{Infer: inferUnary, FLOPs: perOutput(5), Recompute: always})
	registerAs("", []string{"Hardmax"}, Rule{Infer: inferUnary, FLOPs: perOutput(2), Recompute: always})
	registerAs("", []string{"SoftmaxCrossEntropyLoss", "NegativeLogLikelihoodLoss"},
		Rule{Infer: inferLoss, FLOPs: perInput(6), Recompute: always})
	registerAs("com.microsoft", []string{"SoftmaxCrossEntropyLossInternal"},
		Rule{Infer: inferLoss, FLOPs: perInput(6), Recompute: always})
	// Gradients: dX has the shape of dY (input 0).
	registerAs("com.microsoft", []string{"SoftmaxGrad", "SoftmaxGrad_13", "LogSoftmaxGrad", "LogSoftmaxGrad_13"},
		Rule{Infer: inferSameAsInput0, FLOPs: perOutput(4), Recompute: always})
	// Loss gradients: dX has the shape of log_prob (input 1); dY is a scalar.
	registerAs("com.microsoft", []string{"SoftmaxCrossEntropyLossGrad", "SoftmaxCrossEntropyLossInternalGrad"},
		Rule{Infer: inferLossGrad, FLOPs: perOutput(3), Recompute: always})
}

// inferLoss: loss is a scalar unless reduction is "none" (then it has the
// labels' shape); the optional log_prob output has the scores' shape.
func inferLoss(c *Ctx) error {
	scores, labels := c.in(0), c.in(1)
	elem := scores.Elem
	if attrString(c.N, "reduction", "mean") == "none" {
		c.set(0, labels.withElem(elem))
	} else {
		c.set(0, Tensor{Elem: elem, Dims: []int64{}, Rank: 0})
	}
	c.set(1, scores)
	return nil
}

func inferLossGrad(c *Ctx) error {
	lp := c.in(1)
	t := lp
	if t.Elem == 0 {
		t = lp.withElem(c.in(0).Elem)
	}
	c.set(0, t)
	return nil
}
