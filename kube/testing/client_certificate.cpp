#include "kube/testing/client_certificate.h"

#include <memory>
#include <stdexcept>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

namespace palisade::kube::testing {
namespace {

struct Free {
  void operator()(X509* p) const { X509_free(p); }
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
};
template <class T>
using Owned = std::unique_ptr<T, Free>;

void check(bool ok, const char* what) {
  if (!ok) {
    throw std::runtime_error(std::string("issuing a client certificate: ") + what);
  }
}

std::string pemOf(BIO* bio) {
  char* data = nullptr;
  const long length = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<size_t>(length));
}

}  // namespace

certs::PemPair issueClientCertificate(const certs::PemPair& ca, const std::string& common_name,
                                      const std::vector<std::string>& organizations) {
  Owned<BIO> ca_certificate_bio(BIO_new_mem_buf(ca.certificate_pem.data(),
                                                static_cast<int>(ca.certificate_pem.size())));
  Owned<X509> ca_certificate(
      PEM_read_bio_X509(ca_certificate_bio.get(), nullptr, nullptr, nullptr));
  Owned<BIO> ca_key_bio(BIO_new_mem_buf(ca.private_key_pem.data(),
                                        static_cast<int>(ca.private_key_pem.size())));
  Owned<EVP_PKEY> ca_key(PEM_read_bio_PrivateKey(ca_key_bio.get(), nullptr, nullptr, nullptr));
  check(ca_certificate && ca_key, "the CA does not parse");

  Owned<EVP_PKEY> key(EVP_EC_gen("P-256"));
  check(key != nullptr, "key generation");
  Owned<X509> certificate(X509_new());
  X509_set_version(certificate.get(), 2);
  unsigned char serial[16];
  check(RAND_bytes(serial, sizeof(serial)) == 1, "random serial");
  serial[0] &= 0x7f;  // positive
  Owned<BIGNUM> serial_number(BN_bin2bn(serial, sizeof(serial), nullptr));
  BN_to_ASN1_INTEGER(serial_number.get(), X509_get_serialNumber(certificate.get()));
  X509_gmtime_adj(X509_getm_notBefore(certificate.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(certificate.get()), 24L * 3600);
  X509_set_pubkey(certificate.get(), key.get());
  X509_NAME* subject = X509_get_subject_name(certificate.get());
  for (const auto& organization : organizations) {
    X509_NAME_add_entry_by_txt(subject, "O", MBSTRING_UTF8,
                               reinterpret_cast<const unsigned char*>(organization.c_str()), -1,
                               -1, 0);
  }
  X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(common_name.c_str()), -1, -1,
                             0);
  X509_set_issuer_name(certificate.get(), X509_get_subject_name(ca_certificate.get()));

  X509V3_CTX context;
  X509V3_set_ctx(&context, ca_certificate.get(), certificate.get(), nullptr, nullptr, 0);
  const std::pair<int, const char*> extensions[] = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature"},
      {NID_ext_key_usage, "clientAuth"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  for (const auto& [nid, value] : extensions) {
    Owned<X509_EXTENSION> extension(X509V3_EXT_conf_nid(nullptr, &context, nid, value));
    check(extension && X509_add_ext(certificate.get(), extension.get(), -1) == 1, value);
  }
  check(X509_sign(certificate.get(), ca_key.get(), EVP_sha256()) > 0, "signing");

  Owned<BIO> certificate_out(BIO_new(BIO_s_mem()));
  Owned<BIO> key_out(BIO_new(BIO_s_mem()));
  check(PEM_write_bio_X509(certificate_out.get(), certificate.get()) == 1, "PEM certificate");
  check(PEM_write_bio_PrivateKey(key_out.get(), key.get(), nullptr, nullptr, 0, nullptr,
                                 nullptr) == 1,
        "PEM key");
  return certs::PemPair{pemOf(certificate_out.get()), pemOf(key_out.get())};
}

}  // namespace palisade::kube::testing
