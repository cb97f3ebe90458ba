/*! Demo shop: reports what the shopper does through the tracking snippet and keeps the
 * chat widget's page context current. A real shop makes the same calls from its own code. */
(function () {
  "use strict";
  var main = document.querySelector("main[data-page]");
  if (!main) return;
  var page = main.dataset;

  function track(type, fields) {
    if (window.StorefrontEvents) window.StorefrontEvents.track(type, fields);
  }
  function cents(value) {
    return Math.round(Number(value) * 100) / 100;
  }

  if (page.page === "product") {
    var productId = page.productId;
    var cart = document.getElementById("add-to-cart");
    var price = document.getElementById("price");
    var shipVariant = document.getElementById("ship-variant");
    track("product_view", { product_id: productId, variant_id: page.variantId, value: cents(page.price) });
    cart.addEventListener("change", function (event) {
      var choice = event.target;
      if (choice.name !== "variant_id") return;
      track("variant_select", { product_id: productId, variant_id: choice.value, value: cents(choice.dataset.price) });
      if (window.StorefrontChat) window.StorefrontChat.setContext({ variant_id: choice.value });
      price.textContent = choice.dataset.priceLabel;
      shipVariant.value = choice.value;
    });
    cart.addEventListener("submit", function () {
      var choice = cart.querySelector("input[name=variant_id]:checked");
      var quantity = Number(cart.elements.quantity.value) || 1;
      if (!choice) return;
      track("add_to_cart", {
        product_id: productId,
        variant_id: choice.value,
        value: cents(choice.dataset.price * quantity),
        properties: { quantity: quantity }
      });
    });
    var shipping = document.querySelector("[data-shipping-check]");
    if (shipping) {
      track("shipping_check", {
        product_id: productId,
        variant_id: page.variantId,
        properties: { country: shipping.dataset.shippingCheck }
      });
    }
  } else if (page.page === "checkout") {
    track("checkout_start", { value: cents(page.cartValue) });
    var paying = false;
    document.addEventListener("change", function (event) {
      if (paying || event.target.name !== "payment") return;
      paying = true;
      track("payment_info", { value: cents(page.cartValue), properties: { method: event.target.value } });
    });
  } else if (page.productIds) {
    track("compare", { properties: { product_ids: page.productIds.split(",") } });
  } else if (page.orderId) {
    // One purchase per order, however often the confirmation is reloaded.
    track("purchase", {
      event_id: "purchase-" + page.orderId,
      value: cents(page.orderValue),
      properties: { order_id: page.orderId }
    });
  }
})();
