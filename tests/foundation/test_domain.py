import pytest

from alertproc.domain import asp_key, gstin_check_char, gstin_is_valid


@pytest.mark.parametrize("gstin", ["27AAPFU0939F1ZV", "29AAPFU0939F1ZR", "07AAPFU0939F1ZX", "33AAPFU0939F1Z2"])
def test_valid_gstins(gstin):
    assert gstin_is_valid(gstin)


@pytest.mark.parametrize("gstin", ["27AAPFU0939F1ZX", "27AAPFU0939F1Z", "27aapfu0939f1zv", "", None,
                                   "AAAPFU0939F1ZV7", "27AAPFU0939F1YV"])
def test_invalid_gstins(gstin):
    assert not gstin_is_valid(gstin)


def test_check_char_follows_the_mod36_rule():
    assert gstin_check_char("27AAPFU0939F1Z") == "V"


@pytest.mark.parametrize("name", ["Acme Tax Cloud Pvt Ltd", "ACME TAX CLOUD PRIVATE LIMITED", "Acme TaxCloud",
                                  "acme tax-cloud pvt. ltd.", "Acme Tax Cloud Ltd", "  Acme  Tax Cloud  "])
def test_asp_name_variants_share_a_key(name):
    assert asp_key(name) == "ACMETAXCLOUD"


def test_legal_form_alone_is_kept_and_empty_is_none():
    assert asp_key("Limited") == "LIMITED"
    assert asp_key("") is None and asp_key("...") is None
