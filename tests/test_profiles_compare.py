import pytest

from goldilocks_core.profiles.compare import substitutions


def test_substitutions_name_what_the_quick_profile_replaces():
    df = substitutions("appendix_a", "quick", ["alphas", "num_probes"])
    assert list(df.index) == ["model", "alphas", "num_probes"]
    assert df.loc["model", ""] == "replaced" and "N = 500" in df.loc["model", "here (quick)"]
    assert df.loc["alphas", ""] == "same" and df.loc["num_probes", ""] == "replaced"
    assert substitutions("appendix_a", "paper").loc["model", ""] == "same"
    with pytest.raises(ValueError, match="no setting"):
        substitutions("appendix_a", "quick", ["nonsense"])
