/** The model card shipped in SPaR-toy's folder (README.md): what the model is and what it is not. */
export const TOY_MODEL_CARD = `# SPaR-toy

A 1M-parameter Llama-family model (4 layers, hidden size 128, a 1,536-token byte-level BPE
vocabulary, ChatML chat template) trained from scratch by SPaR Lab's \`scripts/toy/train.py\`
on conversations its toy world writes (\`src/toy/\`): short notes about 24 topics under one to
three IFEval constraints (lowercase, capitals, an end phrase, keywords to include or avoid, no
commas, double quotes, a <<title>>, a number of bullet points, a P.S.).

It plays the three roles of SPaR. Its training data follow each constraint half the time, so
the actor has something to improve (on held-out toy prompts, sampled, it follows about a third
of them; greedy, about 42%); as the refiner it judges an answer with one line per constraint and a
\`Final Judgement\` (about 80% of verdicts right), and refines a failing answer between
\`[[start]]\` and \`[[end]]\` (about half of the refinements pass the checkers). It was meant to
refine by a small edit, copying the rest; at this size and training budget it copies only in
part, so a refinement fixes the named constraint and rewrites some of the rest.

What it is not: a language model. It knows a few hundred words, one kind of task and ten kinds of
constraint; outside the toy world it writes nonsense. It exists so that SPaR can be watched
working in minutes, on any laptop, offline.
`;
