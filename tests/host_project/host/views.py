from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render

from apps.trading.selectors import order_list


def home(request):
    return HttpResponse("host home")


@login_required
def my_orders(request):
    """The host's own page over the apps' data: the member's paper orders."""
    orders = order_list(user_id=request.user.pk, venue="paper")
    return render(request, "host/my_orders.html", {"orders": orders})
