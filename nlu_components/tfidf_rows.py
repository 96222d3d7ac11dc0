"""One message's TF-IDF features without scipy's sparse matrices, for scoring messages one at a time.

scikit-learn's ``TfidfVectorizer.transform`` builds and checks several sparse matrices per call (index dtypes,
formats, fitted-ness): for one short message that is most of the work (the sentiment pipeline took 3.6 ms a message,
most of it there, about a tenth of a Rasa worker's CPU under bench-chat). ``TfidfRow`` computes the same row from
the fitted vectorizer's own analyzer, vocabulary and IDF weights as the columns and values of its non-zero entries;
the components using it are tested against scikit-learn's own results.
"""

import math
from collections import Counter

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer


class TfidfRow:
    """A fitted ``TfidfVectorizer`` (l2 norm, IDF, counts, optionally sublinear tf) for one text at a time."""

    def __init__(self, vectorizer: TfidfVectorizer) -> None:
        if vectorizer.norm != "l2" or not vectorizer.use_idf or vectorizer.binary:
            raise ValueError("TfidfRow implements l2-normalised TF-IDF of counts only")
        self.analyze = vectorizer.build_analyzer()
        self.vocabulary: dict[str, int] = vectorizer.vocabulary_
        self.idf = vectorizer.idf_.astype(vectorizer.dtype)
        self.sublinear_tf = vectorizer.sublinear_tf
        self.dtype = vectorizer.dtype
        self.width = len(self.vocabulary)

    def __call__(self, text: str) -> tuple[np.ndarray, np.ndarray]:
        """The columns and values of ``text``'s non-zero features, as ``transform`` would give them."""
        counts = Counter(column for term in self.analyze(text) if (column := self.vocabulary.get(term)) is not None)
        columns = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = [1.0 + math.log(count) if self.sublinear_tf else float(count) for count in counts.values()]
        values = np.asarray(tf, dtype=self.dtype) * self.idf[columns]
        norm = np.sqrt(np.dot(values, values))
        return columns, values / norm if norm > 0 else values
